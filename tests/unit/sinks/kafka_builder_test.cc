// Kafka sink, pure parts: topic templates and the messages a change becomes in both formats.
#include "sinks/kafka/kafka_builder.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/changes.h"

namespace sluice::kafka {
namespace {

using nlohmann::json;

std::shared_ptr<const TableId> Items() {
  static auto t = test::MakeTable("shop", "public", "items");
  return t;
}

Value Int(const char* v) { return Value::Of(ValueKind::kInt, v); }
Value Str(const char* v) { return Value::Of(ValueKind::kString, v); }

Change Upsert(Op op) {
  Change c = test::KeyedChange(op, Items(), 7, 0x16B3748, 2);
  c.after = Row{{"id", Int("7")},
                {"name", Str("seven")},
                {"price", Value::Of(ValueKind::kNumeric, "1.250")},
                {"body", Value::Unchanged()}};
  c.commit_time_us = 1795000000123456;
  c.xid = 731;
  return c;
}

MessageList Build(const Change& c, Format f, bool tombstones = false) {
  MessageList out;
  BuildMessages(c, {f, tombstones}, 1795000000999, &out);
  return out;
}

}  // namespace

TEST_CASE("KafkaTopicTemplate: placeholders and errors", "[unit][kafka]") {
  auto t = TopicTemplate::Parse("{source}.{schema}.{table}");
  REQUIRE(t.ok());
  CHECK(t->Render(*Items()) == "shop.public.items");
  auto fixed = TopicTemplate::Parse("shop.orders");
  REQUIRE(fixed.ok());
  CHECK(fixed->Render(*Items()) == "shop.orders");
  auto bad = TopicTemplate::Parse("x.{column}");
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("{column}") != std::string::npos);
  CHECK(TopicTemplate::Parse("x.{table").status().code() == StatusCode::kInvalidArgument);
  CHECK(TopicTemplate::Parse("").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("KafkaBuilder: sluice format is the line format, keyed by the table key",
          "[unit][kafka]") {
  auto msgs = Build(Upsert(Op::kUpdate), Format::kSluice);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].key == R"({"id":7})");
  auto v = json::parse(msgs[0].value);
  CHECK(v["op"] == "update");
  CHECK(v["source"] == "shop");
  CHECK(v["lsn"] == "0/16B3748");
  CHECK(v["seq"] == 2);
  CHECK(v["after"]["price"] == "1.250");
  CHECK(v["unchanged"] == json::array({"body"}));
  CHECK_FALSE(msgs[0].tombstone);
  CHECK_FALSE(msgs[0].all_partitions);

  SECTION("a delete with tombstones is followed by a null value under the same key") {
    Change d = Upsert(Op::kDelete);
    d.after.reset();
    auto m = Build(d, Format::kSluice, true);
    REQUIRE(m.size() == 2);
    CHECK(m[1].tombstone);
    CHECK(m[1].key == m[0].key);
  }
  SECTION("a key change with tombstones also tombstones the old key") {
    Change u = Upsert(Op::kUpdate);
    u.old_key = Row{{"id", Int("6")}};
    auto m = Build(u, Format::kSluice, true);
    REQUIRE(m.size() == 2);
    CHECK(m[0].key == R"({"id":7})");
    CHECK(m[1].tombstone);
    CHECK(m[1].key == R"({"id":6})");
  }
  SECTION("a truncate has no key and goes to every partition") {
    Change t;
    t.op = Op::kTruncate;
    t.table = Items();
    t.position = {Lsn(0x20), 0};
    auto m = Build(t, Format::kSluice, true);
    REQUIRE(m.size() == 1);
    CHECK(m[0].key.empty());
    CHECK(m[0].all_partitions);
  }
}

TEST_CASE("KafkaBuilder: debezium format", "[unit][kafka]") {
  SECTION("insert: op c, after, source block with lsn, txId, ts_ms, schema, table") {
    auto msgs = Build(Upsert(Op::kInsert), Format::kDebezium);
    REQUIRE(msgs.size() == 1);
    auto v = json::parse(msgs[0].value);
    CHECK(v["op"] == "c");
    CHECK(v["before"].is_null());
    CHECK(v["after"]["id"] == 7);
    CHECK(v["after"]["name"] == "seven");
    CHECK(v["after"]["body"] == kDebeziumUnavailable);
    CHECK(v["source"]["lsn"] == 0x16B3748);
    CHECK(v["source"]["txId"] == 731);
    CHECK(v["source"]["ts_ms"] == 1795000000123);
    CHECK(v["source"]["schema"] == "public");
    CHECK(v["source"]["table"] == "items");
    CHECK(v["source"]["snapshot"] == "false");
    CHECK(v["source"]["connector"] == "sluice");
    CHECK(v["ts_ms"] == 1795000000999);
    CHECK(v.contains("transaction"));
    CHECK(msgs[0].key == R"({"id":7})");
  }
  SECTION("ops r, u, d, t") {
    CHECK(json::parse(Build(Upsert(Op::kRead), Format::kDebezium)[0].value)["op"] == "r");
    CHECK(json::parse(Build(Upsert(Op::kRead), Format::kDebezium)[0].value)["source"]["snapshot"] ==
          "true");
    CHECK(json::parse(Build(Upsert(Op::kUpdate), Format::kDebezium)[0].value)["op"] == "u");
    Change d = Upsert(Op::kDelete);
    d.after.reset();
    auto del = Build(d, Format::kDebezium, true);
    REQUIRE(del.size() == 2);
    auto v = json::parse(del[0].value);
    CHECK(v["op"] == "d");
    CHECK(v["after"].is_null());
    CHECK(v["before"]["id"] == 7);  // the key, without REPLICA IDENTITY FULL
    CHECK(del[1].tombstone);
    Change t;
    t.op = Op::kTruncate;
    t.table = Items();
    auto tr = Build(t, Format::kDebezium);
    REQUIRE(tr.size() == 1);
    CHECK(json::parse(tr[0].value)["op"] == "t");
    CHECK(tr[0].all_partitions);
  }
  SECTION("a key change is a delete of the old key then a create of the new one") {
    Change u = Upsert(Op::kUpdate);
    u.old_key = Row{{"id", Int("6")}};
    auto m = Build(u, Format::kDebezium, true);
    REQUIRE(m.size() == 3);
    CHECK(m[0].key == R"({"id":6})");
    CHECK(json::parse(m[0].value)["op"] == "d");
    CHECK(m[1].tombstone);
    CHECK(m[1].key == R"({"id":6})");
    CHECK(m[2].key == R"({"id":7})");
    CHECK(json::parse(m[2].value)["op"] == "c");
  }
}

TEST_CASE("KafkaBuilder: a reused message list carries nothing from one change to the next",
          "[unit][kafka]") {
  MessageList list;
  Change del = Upsert(Op::kDelete);
  del.after.reset();
  BuildMessages(del, {Format::kSluice, true}, 0, &list);
  REQUIRE(list.size() == 2);
  CHECK(list[1].tombstone);
  std::string first_value = list[0].value;

  list.Clear();
  CHECK(list.empty());
  BuildMessages(Upsert(Op::kUpdate), {Format::kSluice, true}, 0, &list);
  REQUIRE(list.size() == 1);
  CHECK_FALSE(list[0].tombstone);
  CHECK(list[0].op == Op::kUpdate);
  CHECK(list[0].value != first_value);
  CHECK(json::parse(list[0].value)["op"] == "update");  // one envelope, not two appended
  CHECK(list.end() - list.begin() == 1);

  Change truncate;
  truncate.op = Op::kTruncate;
  truncate.table = Items();
  list.Clear();
  BuildMessages(truncate, {Format::kSluice, true}, 0, &list);
  REQUIRE(list.size() == 1);
  CHECK(list[0].key.empty());
  CHECK(list[0].all_partitions);
  list.Clear();
  BuildMessages(Upsert(Op::kInsert), {Format::kSluice, false}, 0, &list);
  REQUIRE(list.size() == 1);
  CHECK_FALSE(list[0].all_partitions);
  CHECK(list[0].key == R"({"id":7})");

  // A huge value's buffer is not kept once its change is done; a small one's is.
  Change big = Upsert(Op::kInsert);
  big.after->push_back({"blob", Str("")});
  big.after->back().value.text.assign(4 << 20, 'x');
  list.Clear();
  BuildMessages(big, {Format::kSluice, false}, 0, &list);
  REQUIRE(list.size() == 1);
  CHECK(list[0].value.size() > (4u << 20));
  list.Clear();
  BuildMessages(Upsert(Op::kInsert), {Format::kSluice, false}, 0, &list);
  CHECK(list[0].value.capacity() < (1u << 20));
  const char* small_buffer = list[0].value.data();
  list.Clear();
  BuildMessages(Upsert(Op::kUpdate), {Format::kSluice, false}, 0, &list);
  CHECK(list[0].value.data() == small_buffer);
}

}  // namespace sluice::kafka
