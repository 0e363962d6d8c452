// The decoders against golden binary logs of a real MariaDB 10.11 (tests/data/mariadb,
// recorded by its capture.sh from capture.sql): every event decodes, table maps carry what
// binlog_row_metadata=FULL promises, and every type's streamed value equals what a SELECT
// of the same row returns (the snapshot's path), and the edge values expected.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "connectors/mariadb/binlog_event.h"
#include "connectors/mariadb/rows_event.h"
#include "connectors/mariadb/table_map.h"
#include "connectors/mariadb/value_map.h"

namespace Catch {
template <>
struct StringMaker<sluice::Value> {
  static std::string convert(const sluice::Value& v) {
    return std::to_string(static_cast<int>(v.kind)) + ":'" + v.text + "'";
  }
};
}  // namespace Catch

namespace sluice::mariadb {
namespace {

std::filesystem::path DataDir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "data" /
         "mariadb";
}

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

struct Captured {
  std::string file;
  uint64_t pos = 0;
  std::string bytes;
};

std::vector<Captured> LoadEvents(const std::string& name) {
  std::ifstream in(DataDir() / name);
  REQUIRE(in.good());
  std::vector<Captured> out;
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find('|'), b = line.find('|', a + 1);
    REQUIRE(b != std::string::npos);
    out.push_back({line.substr(0, a), std::stoull(line.substr(a + 1, b - a - 1)),
                   Unhex(std::string_view(line).substr(b + 1))});
  }
  return out;
}

// types_select.txt: one row per line, values hex or NULL, '|' between.
std::vector<std::vector<std::optional<std::string>>> LoadSelect() {
  std::ifstream in(DataDir() / "types_select.txt");
  REQUIRE(in.good());
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::optional<std::string>> row;
    size_t start = 0;
    while (true) {
      size_t end = line.find('|', start);
      std::string v =
          line.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (v == "NULL") {
        row.push_back(std::nullopt);
      } else {
        row.push_back(Unhex(v));
      }
      if (end == std::string::npos) break;
      start = end + 1;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

struct Decoded {
  std::vector<Event> events;
  std::map<uint64_t, TableMap> maps;  // by table id, the latest
  // Rows events with the map they were decoded with.
  std::vector<std::pair<RowsEvent::Kind, std::pair<TableMap, std::vector<RowChange>>>> rows;
};

// Keeps the captured bytes alive: RowsEvent bodies and cells view them.
Decoded DecodeAll(const std::vector<Captured>& events) {
  Decoded d;
  FormatInfo format;
  for (const Captured& c : events) {
    INFO(c.file << ":" << c.pos);
    Result<Event> e = DecodeEvent(c.bytes, &format);
    REQUIRE(e.ok());
    if (auto* map = std::get_if<TableMap>(&e.value().body)) d.maps[map->table_id] = *map;
    if (auto* rows = std::get_if<RowsEvent>(&e.value().body)) {
      REQUIRE(d.maps.count(rows->table_id) == 1);
      const TableMap& map = d.maps[rows->table_id];
      std::vector<RowChange> changes;
      Status s = DecodeRows(*rows, map, &changes);
      INFO(s.message());
      REQUIRE(s.ok());
      d.rows.push_back({rows->kind, {map, std::move(changes)}});
    }
    d.events.push_back(std::move(e).value());
  }
  return d;
}

std::vector<Value> Values(const TableMap& map, const std::vector<Cell>& cells) {
  std::vector<Value> out;
  for (size_t i = 0; i < cells.size(); ++i) {
    Result<Value> v = CellToValue(cells[i], map.columns[i]);
    INFO("column " << map.columns[i].name << ": " << v.status().message());
    REQUIRE(v.ok());
    out.push_back(v.value());
  }
  return out;
}

std::vector<Value> SelectValues(const TableMap& map,
                                const std::vector<std::optional<std::string>>& row) {
  REQUIRE(row.size() == map.columns.size());
  std::vector<Value> out;
  for (size_t i = 0; i < row.size(); ++i) {
    out.push_back(row[i] ? TextToValue(ClassOf(map.columns[i]), *row[i]) : Value::Null());
  }
  return out;
}

size_t ColumnIndex(const TableMap& map, const std::string& name) {
  for (size_t i = 0; i < map.columns.size(); ++i) {
    if (map.columns[i].name == name) return i;
  }
  FAIL("no column " << name);
  return 0;
}

TEST_CASE("MariaDB capture: every type streams as the SELECT reads it", "[unit][mariadb]") {
  std::vector<Captured> events = LoadEvents("types.txt");
  Decoded d = DecodeAll(events);
  // What the source learns from information_schema.COLUMNS (the map cannot tell).
  for (auto& [kind, mr] : d.rows) {
    for (Column& c : mr.first.columns) {
      if (c.name == "u") c.logical = Column::Logical::kUuid;
      if (c.name == "ip4") c.logical = Column::Logical::kInet4;
      if (c.name == "ip6") c.logical = Column::Logical::kInet6;
    }
  }
  auto select = LoadSelect();
  REQUIRE(select.size() == 2);

  // One INSERT of rows 1..3, one UPDATE of row 2, one DELETE of row 3.
  std::vector<RowChange> written, updated, deleted;
  const TableMap* map = nullptr;
  for (auto& [kind, mr] : d.rows) {
    REQUIRE(mr.first.table == "types");
    map = &mr.first;
    auto& to = kind == RowsEvent::Kind::kWrite    ? written
               : kind == RowsEvent::Kind::kUpdate ? updated
                                                  : deleted;
    for (auto& r : mr.second) to.push_back(std::move(r));
  }
  REQUIRE(map != nullptr);
  REQUIRE(written.size() == 3);
  REQUIRE(updated.size() == 1);
  REQUIRE(deleted.size() == 1);
  REQUIRE(map->has_names);
  CHECK(map->database == "cap");
  CHECK(map->primary_key == std::vector<size_t>{0});

  std::vector<Value> row1 = Values(*map, written[0].after);
  std::vector<Value> row2 = Values(*map, updated[0].after);
  std::vector<Value> select1 = SelectValues(*map, select[0]);
  std::vector<Value> select2 = SelectValues(*map, select[1]);
  for (size_t i = 0; i < map->columns.size(); ++i) {
    INFO("column " << map->columns[i].name << " type " << int(map->columns[i].type));
    CHECK(row1[i] == select1[i]);
    CHECK(row2[i] == select2[i]);
  }

  // The edge values themselves, so both paths agreeing on a wrong value fails too.
  auto v1 = [&](const std::string& col) { return row1[ColumnIndex(*map, col)]; };
  auto v2 = [&](const std::string& col) { return row2[ColumnIndex(*map, col)]; };
  using K = ValueKind;
  CHECK(v1("ti") == Value::Of(K::kInt, "-128"));
  CHECK(v1("tiu") == Value::Of(K::kInt, "255"));
  CHECK(v1("mi") == Value::Of(K::kInt, "-8388608"));
  CHECK(v1("miu") == Value::Of(K::kInt, "16777215"));
  CHECK(v1("iu") == Value::Of(K::kInt, "4294967295"));
  CHECK(v1("bi") == Value::Of(K::kInt, "-9223372036854775808"));
  CHECK(v1("biu") == Value::Of(K::kInt, "18446744073709551615"));
  CHECK(v2("biu") == Value::Of(K::kInt, "9223372036854775808"));
  CHECK(v1("d_65_30") ==
        Value::Of(K::kNumeric,
                  "-12345678901234567890123456789012345.123456789012345678901234567890"));
  CHECK(v2("d_65_30") == Value::Of(K::kNumeric, "0.000000000000000000000000000001"));
  CHECK(v1("d_5_0") == Value::Of(K::kNumeric, "99999"));
  CHECK(v2("d_5_0") == Value::Of(K::kNumeric, "-99999"));
  CHECK(v1("d_10_4") == Value::Of(K::kNumeric, "-0.0001"));
  CHECK(v2("d_10_4") == Value::Of(K::kNumeric, "0.0000"));
  CHECK(v1("d_18_9") == Value::Of(K::kNumeric, "123456789.987654321"));
  CHECK(v2("dbl") == Value::Of(K::kFloat, "0.1"));
  CHECK(v1("dbl") == Value::Of(K::kFloat, "-2.2250738585072014e-308"));
  CHECK(v2("f") == Value::Of(K::kFloat, "0.1"));
  CHECK(v1("b17") == Value::Of(K::kInt, "65537"));
  CHECK(v1("b64") == Value::Of(K::kInt, "18446744073709551615"));
  CHECK(v1("c10") == Value::Of(K::kString, "pad"));
  CHECK(v1("c_latin1") == Value::Of(K::kString, "çà"));
  CHECK(v1("vc_latin1") == Value::Of(K::kString, "Ærø"));
  CHECK(v1("vc_cp1251") == Value::Of(K::kString, "Привет"));
  CHECK(v1("vc_ucs2") == Value::Of(K::kString, "ĀĒ"));
  CHECK(v1("vc_utf16") == Value::Of(K::kString, "😀 ok"));
  CHECK(v1("lt") == Value::Of(K::kString, "long ✓"));
  CHECK(v1("bin4") == Value::Of(K::kString, "AAECAA=="));
  CHECK(v2("bin4") == Value::Of(K::kString, "AAAAAA=="));
  CHECK(v1("bl") == Value::Of(K::kString, "3q2+7w=="));
  CHECK(v1("tb") == Value::Of(K::kString, ""));
  CHECK(v1("dt") == Value::Of(K::kString, "2026-11-24"));
  CHECK(v1("tm") == Value::Of(K::kString, "-838:59:59"));
  CHECK(v1("tm1") == Value::Of(K::kString, "12:30:00.5"));
  CHECK(v1("tm3") == Value::Of(K::kString, "-00:00:01.250"));
  CHECK(v1("tm6") == Value::Of(K::kString, "23:59:59.999999"));
  CHECK(v2("tm1") == Value::Of(K::kString, "-00:00:00.1"));
  CHECK(v2("tm6") == Value::Of(K::kString, "-838:59:59.000000"));
  CHECK(v1("dtm") == Value::Of(K::kString, "9999-12-31T23:59:59"));
  CHECK(v1("dtm2") == Value::Of(K::kString, "1000-01-01T00:00:00.01"));
  CHECK(v1("dtm6") == Value::Of(K::kString, "2026-11-24T10:00:00.000001"));
  CHECK(v1("ts") == Value::Of(K::kString, "1970-01-01T00:00:01Z"));
  CHECK(v1("ts6") == Value::Of(K::kString, "2038-01-19T03:14:07.999999Z"));
  CHECK(v2("ts6") == Value::Of(K::kString, "2026-11-24T08:00:00.123000Z"));
  CHECK(v1("y") == Value::Of(K::kInt, "2155"));
  CHECK(v2("y") == Value::Of(K::kInt, "1901"));
  CHECK(v1("e") == Value::Of(K::kString, "large"));
  CHECK(v2("e") == Value::Of(K::kString, "small"));
  CHECK(v1("st") == Value::Of(K::kString, "a,d"));
  CHECK(v2("st") == Value::Of(K::kString, ""));
  CHECK(v1("u") == Value::Of(K::kString, "123e4567-e89b-12d3-a456-426614174000"));
  CHECK(v2("u") == Value::Of(K::kString, "00000000-0000-0000-0000-000000000000"));
  CHECK(v1("ip4") == Value::Of(K::kString, "192.168.0.1"));
  CHECK(v2("ip4") == Value::Of(K::kString, "0.0.0.0"));
  CHECK(v1("ip6") == Value::Of(K::kString, "2001:db8::ff00:42:8329"));
  CHECK(v2("ip6") == Value::Of(K::kString, "::ffff:1.2.3.4"));
  CHECK(v1("gv") == Value::Of(K::kInt, "-2147483647"));
  CHECK(v1("gs") == Value::Of(K::kInt, "-4294967296"));
  CHECK(v1("j") == Value::Of(K::kString, R"({"k": [1, 2.50, "x"], "n": null})"));

  // Row 3: NULL everywhere but its key, in the insert and in the delete's before image.
  std::vector<Value> row3 = Values(*map, written[2].after);
  std::vector<Value> gone = Values(*map, deleted[0].before);
  CHECK(row3 == gone);
  CHECK(row3[0] == Value::Of(K::kInt, "3"));
  for (size_t i = 1; i < row3.size(); ++i) {
    INFO("column " << map->columns[i].name);
    CHECK(row3[i].is_null());
  }
  // The update's before image is row 2 as inserted.
  std::vector<Value> before2 = Values(*map, updated[0].before);
  CHECK(before2[ColumnIndex(*map, "i")] == Value::Of(K::kInt, "2147483647"));
  CHECK(v2("i") == Value::Of(K::kInt, "5"));
}

TEST_CASE("MariaDB capture: transactions, DDL, rotation and XA as events", "[unit][mariadb]") {
  std::vector<Captured> events = LoadEvents("rows.txt");
  Decoded d = DecodeAll(events);
  std::vector<GtidEvent> gtids;
  std::vector<std::string> rotations;
  int xids = 0, xa_prepares = 0;
  for (const Event& e : d.events) {
    if (auto* g = std::get_if<GtidEvent>(&e.body)) gtids.push_back(*g);
    if (auto* r = std::get_if<Rotate>(&e.body)) rotations.push_back(r->file);
    if (std::holds_alternative<Xid>(e.body)) ++xids;
    if (std::holds_alternative<XaPrepare>(e.body)) ++xa_prepares;
  }
  REQUIRE(!gtids.empty());
  // GTIDs of domain 0, server 1, their seq strictly increasing across the rotation.
  for (size_t i = 1; i < gtids.size(); ++i) {
    CHECK(gtids[i].gtid.domain == 0);
    CHECK(gtids[i].gtid.server == 1);
    CHECK(gtids[i].gtid.seq > gtids[i - 1].gtid.seq);
  }
  CHECK(std::find(rotations.begin(), rotations.end(), "binlog.000002") != rotations.end());
  CHECK(xids >= 5);
  CHECK(xa_prepares == 2);  // xa1 and xa2 prepared; xa3 committed in one phase
  int prepared = 0, completed = 0;
  for (const GtidEvent& g : gtids) {
    if (g.flags & GtidEvent::kPreparedXa) {
      ++prepared;
      CHECK((g.xid.gtrid == "xa1" || g.xid.gtrid == "xa2"));
    }
    if (g.flags & GtidEvent::kCompletedXa) ++completed;
  }
  CHECK(prepared == 2);
  CHECK(completed == 2);

  // The tables' maps: keys, and the columns through ALTER TABLE.
  std::vector<size_t> item_columns;
  for (auto& [kind, mr] : d.rows) {
    const TableMap& map = mr.first;
    if (map.table == "pairs") CHECK(map.primary_key == std::vector<size_t>{1, 0});
    if (map.table == "items") {
      CHECK(map.primary_key == std::vector<size_t>{0});
      if (item_columns.empty() || item_columns.back() != map.columns.size()) {
        item_columns.push_back(map.columns.size());
      }
    }
  }
  CHECK(item_columns == std::vector<size_t>{4, 5, 4});

  // The first insert of items: (1, 'widget', 9.99, NULL).
  const auto& first = d.rows.front();
  REQUIRE(first.first == RowsEvent::Kind::kWrite);
  std::vector<Value> v = Values(first.second.first, first.second.second.at(0).after);
  CHECK(v == std::vector<Value>{Value::Of(ValueKind::kInt, "1"),
                                Value::Of(ValueKind::kString, "widget"),
                                Value::Of(ValueKind::kNumeric, "9.99"), Value::Null()});
}

TEST_CASE("MariaDB decoder: corrupt events are DataLoss", "[unit][mariadb]") {
  std::vector<Captured> events = LoadEvents("types.txt");
  FormatInfo format;
  REQUIRE(DecodeEvent(events[0].bytes, &format).ok());
  for (size_t i = 1; i < events.size(); ++i) {
    std::string bad = events[i].bytes;
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x40);
    Result<Event> e = DecodeEvent(bad, &format);
    CHECK(e.status().code() == StatusCode::kDataLoss);
    CHECK_FALSE(DecodeEvent(events[i].bytes.substr(0, events[i].bytes.size() - 1), &format).ok());
  }
}

TEST_CASE("MariaDB decoder: GTID list text", "[unit][mariadb]") {
  auto list = ParseGtidList("0-1-42,1-2-7");
  REQUIRE(list.ok());
  CHECK(list.value() == std::vector<Gtid>{{0, 1, 42}, {1, 2, 7}});
  CHECK(GtidListText(list.value()) == "0-1-42,1-2-7");
  CHECK(ParseGtidList("").value().empty());
  CHECK_FALSE(ParseGtidList("0-1").ok());
  CHECK_FALSE(ParseGtidList("0-1-x").ok());
}

}  // namespace
}  // namespace sluice::mariadb
