#include "connectors/postgres/snapshot_reader.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "connectors/postgres/copy_text.h"
#include "connectors/postgres/type_map.h"

namespace sluice::pg {
namespace {

TableInfo Table(std::string name, std::vector<ColumnInfo> columns, std::vector<std::string> key) {
  TableInfo t;
  t.schema = "public";
  t.name = std::move(name);
  t.columns = std::move(columns);
  t.key_columns = std::move(key);
  return t;
}

// One random COPY text field for a column of `oid`: NULLs, escapes, long values, and the
// forms the fast conversions must leave to the general rules.
std::string RandomField(std::mt19937& rng, uint32_t oid) {
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  if (pick(8) == 0) return "\\N";
  switch (oid) {
    case kInt8Oid:
      return std::vector<std::string>{"0", "-17", "9223372036854775807", "12x", "007"}[pick(5)];
    case kNumericOid:
      return std::vector<std::string>{"1.50", "NaN", "-0.000001",
                                      "123456789012345678901234.5"}[pick(4)];
    case kTimestamptzOid:
      return std::vector<std::string>{"2024-01-12 13:46:40+00",    "2024-01-12 13:46:40.123456+00",
                                      "0044-03-15 10:00:00+00 BC", "infinity",
                                      "2026-11-24 10:00:00+05:30", "10000-01-01 00:00:00+00",
                                      "2026-11-24 10:00:00.5x+00"}[pick(7)];
    case kTimestampOid:
      return std::vector<std::string>{"2024-01-12 13:46:40", "2024-01-12 13:46:40.5",
                                      "0044-03-15 10:00:00 BC", "-infinity"}[pick(4)];
    case kJsonbOid:
      return std::vector<std::string>{"{\"a\": 1}", "[1, \"x\\\\ny\"]", "null"}[pick(3)];
    default: {
      // Text of any length, with the escapes COPY writes.
      static const std::vector<std::string> kPieces = {
          "a", "é", "\\t", "\\n", "\\\\", "\\\\N", "word ", "0123456789abcdef"};
      std::string out;
      size_t n = pick(4) == 0 ? 300 + pick(3000) : pick(12);
      for (size_t i = 0; i < n; ++i) out += kPieces[pick(kPieces.size())];
      return out;
    }
  }
}

std::string RandomLine(std::mt19937& rng, const TableInfo& t) {
  std::string line;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i > 0) line += '\t';
    line += RandomField(rng, t.columns[i].type_oid);
  }
  return line;
}

TEST_CASE("CopyRowDecoder: a reused change ends equal to a fresh one, its buffers bounded",
          "[unit][snapshot]") {
  TableInfo items = Table("items",
                          {{"id", kInt8Oid},
                           {"name", kTextOid},
                           {"price", kNumericOid},
                           {"updated_at", kTimestamptzOid},
                           {"a_rather_long_column_name", kTextOid},
                           {"seen", kTimestampOid},
                           {"doc", kJsonbOid}},
                          {"id", "name"});
  TableInfo other = Table("other", {{"k", kTextOid}, {"v", kTextOid}}, {"k"});
  TypeOverrides types;
  Lsn tag(0x16B3748);
  CopyRowDecoder decoder(items, types, "shop", tag);
  CopyRowDecoder other_decoder(other, types, "shop", tag);
  std::mt19937 rng(20261124);

  // Spent changes of every shape: this table's, another table's, streamed ones with old
  // rows, and short lines.
  std::vector<Change> spent(40);
  for (size_t i = 0; i < spent.size(); ++i) {
    size_t bytes = 0;
    if (i % 3 == 1) {
      REQUIRE(other_decoder.Fill(RandomLine(rng, other), spent[i], &bytes));
    } else if (i % 3 == 2) {
      REQUIRE(decoder.Fill(RandomLine(rng, items), spent[i], &bytes));
      spent[i].op = Op::kUpdate;
      spent[i].before = spent[i].after;
      spent[i].old_key = spent[i].key;
      spent[i].xid = 7;
      spent[i].commit_time_us = 99;
    }
  }
  for (int round = 0; round < 2000; ++round) {
    std::string line = RandomLine(rng, items);
    if (round % 50 == 0) line = line.substr(0, line.find('\t'));  // a short row
    INFO(line);
    Change fresh;
    size_t fresh_bytes = 0;
    REQUIRE(decoder.Fill(line, fresh, &fresh_bytes));
    Change& reused = spent[static_cast<size_t>(round) % spent.size()];
    size_t reused_bytes = 0;
    REQUIRE(decoder.Fill(line, reused, &reused_bytes));

    CHECK(reused.op == Op::kRead);
    CHECK(*reused.table == *fresh.table);
    CHECK(reused.key == fresh.key);
    CHECK(!reused.old_key);
    CHECK(!reused.before);
    REQUIRE(reused.after);
    CHECK(*reused.after == *fresh.after);
    CHECK(reused.position == fresh.position);
    CHECK(reused.commit_time_us == 0);
    CHECK(reused.xid == 0);
    CHECK(fresh_bytes == fresh.ApproxBytes());
    CHECK(reused_bytes == reused.ApproxBytes());
    // Each value is what ConvertText makes of its unescaped field.
    std::vector<std::optional<std::string>> fields;
    REQUIRE(ParseCopyTextLine(line, &fields));
    REQUIRE(fields.size() == reused.after->size());
    for (size_t i = 0; i < fields.size(); ++i) {
      const Field& f = (*reused.after)[i];
      CHECK(f.name == items.columns[i].name);
      CHECK(f.value ==
            (fields[i] ? ConvertText(items.columns[i].type_oid, *fields[i]) : Value::Null()));
      // A buffer stays within twice its value (or 256 bytes) however large it once was.
      CHECK(f.value.text.capacity() <= std::max<size_t>(256, 2 * f.value.text.size()));
    }
  }
}

TEST_CASE("CopyRowDecoder: values converted as ConvertText does, escapes undone",
          "[unit][snapshot]") {
  TableInfo t = Table("t",
                      {{"id", kInt8Oid},
                       {"note", kTextOid},
                       {"at", kTimestamptzOid},
                       {"bad", kInt8Oid},
                       {"gone", kTextOid}},
                      {"id"});
  CopyRowDecoder decoder(t, {}, "shop", Lsn(42));
  Change c;
  size_t bytes = 0;
  REQUIRE(decoder.Fill("7\ta\\tb\\\\N\t2024-01-12 13:46:40.5+00\t12x\t\\N", c, &bytes));
  REQUIRE(c.after);
  Row want = {{"id", Value::Of(ValueKind::kInt, "7")},
              {"note", Value::Of(ValueKind::kString, "a\tb\\N")},
              {"at", Value::Of(ValueKind::kString, "2024-01-12T13:46:40.5Z")},
              {"bad", Value::Of(ValueKind::kString, "12x")},
              {"gone", Value::Null()}};
  CHECK(*c.after == want);
  CHECK(c.key == Row{{"id", Value::Of(ValueKind::kInt, "7")}});
  CHECK(c.position == Position{Lsn(42), 0});
  CHECK(c.table->ToString() == "shop.public.t");
  // A trailing lone backslash is malformed.
  CHECK_FALSE(decoder.Fill("7\tabc\\", c, &bytes));
}

}  // namespace
}  // namespace sluice::pg
