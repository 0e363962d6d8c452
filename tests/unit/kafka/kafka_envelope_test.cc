// Kafka source, pure parts: envelopes back into changes (both formats, round trips through
// the sink's builder), offsets that may be committed, and topic subscriptions from pipes.
#include "connectors/kafka/kafka_envelope.h"

#include <catch2/catch.hpp>

#include "connectors/kafka/kafka_source.h"
#include "connectors/kafka/offset_tracker.h"
#include "sinks/kafka/kafka_builder.h"
#include "support/changes.h"
#include "util/change_json.h"

namespace sluice::kafka {
namespace {

std::shared_ptr<const TableId> Items() {
  static auto t = test::MakeTable("shop", "public", "items");
  return t;
}

Value Int(const char* v) { return Value::Of(ValueKind::kInt, v); }
Value Str(const char* v) { return Value::Of(ValueKind::kString, v); }

Change Sample(Op op) {
  Change c = test::KeyedChange(op, Items(), 7, 0x16B3748, 2);
  if (op != Op::kDelete) {
    c.after = Row{{"id", Int("7")},
                  {"name", Str("seven \"quoted\"\n")},
                  {"price", Value::Of(ValueKind::kNumeric, "1.250")},
                  {"ratio", Value::Of(ValueKind::kFloat, "0.5")},
                  {"ok", Value::Of(ValueKind::kBool, "true")},
                  {"doc", Value::Of(ValueKind::kJson, R"({"a":[1,2]})")},
                  {"gone", Value::Null()},
                  {"body", Value::Unchanged()}};
  }
  c.commit_time_us = 1795000000123456;
  c.xid = 731;
  return c;
}

// Sinks see strings for numerics and times already; the parser reads them back as strings,
// which every sink renders the same way.
void Normalize(Change& c) {
  for (auto* row : {&c.after, &c.before}) {
    if (!*row) continue;
    for (Field& f : **row) {
      if (f.value.kind == ValueKind::kNumeric) f.value.kind = ValueKind::kString;
    }
  }
}

std::string Line(const Change& c) {
  std::string s;
  AppendChangeJson(c, &s);
  return s;
}

}  // namespace

TEST_CASE("KafkaEnvelope: a sluice message parses back into the same change", "[unit][kafka]") {
  EnvelopeParser parser(InputFormat::kAuto);
  for (Op op : {Op::kRead, Op::kInsert, Op::kUpdate, Op::kDelete}) {
    Change c = Sample(op);
    if (op == Op::kUpdate) c.old_key = Row{{"id", Int("6")}};
    MessageList msgs;
    BuildMessages(c, {Format::kSluice, false}, 0, &msgs);
    REQUIRE(msgs.size() == 1);
    std::vector<Change> out;
    REQUIRE(parser.Parse(msgs[0].key, msgs[0].value, {}, &out).ok());
    REQUIRE(out.size() == 1);
    Normalize(c);
    CHECK(Line(out[0]) == Line(c));
    CHECK(out[0].position == c.position);
    CHECK(out[0].commit_time_us == c.commit_time_us);
    CHECK(*out[0].table == *c.table);
  }
  SECTION("changes of one table share one TableId") {
    std::vector<Change> out;
    std::string line = Line(Sample(Op::kInsert));
    REQUIRE(parser.Parse(std::nullopt, line, {}, &out).ok());
    REQUIRE(parser.Parse(std::nullopt, line, {}, &out).ok());
    CHECK(out[0].table.get() == out[1].table.get());
  }
  SECTION("tombstones carry no change") {
    std::vector<Change> out;
    REQUIRE(parser.Parse(std::string(R"({"id":7})"), std::nullopt, {}, &out).ok());
    CHECK(out.empty());
  }
}

TEST_CASE("KafkaEnvelope: a debezium message parses back, position from headers", "[unit][kafka]") {
  EnvelopeParser parser(InputFormat::kAuto);
  Change c = Sample(Op::kUpdate);
  c.commit_time_us = 1795000000123000;  // Debezium's ts_ms has milliseconds only
  MessageList msgs;
  BuildMessages(c, {Format::kDebezium, false}, 0, &msgs);
  REQUIRE(msgs.size() == 1);
  std::vector<Change> out;
  MessageMeta meta;
  meta.header_position = [&c] { return std::optional<Position>(c.position); };
  REQUIRE(parser.Parse(msgs[0].key, msgs[0].value, meta, &out).ok());
  REQUIRE(out.size() == 1);
  Normalize(c);
  CHECK(Line(out[0]) == Line(c));
  CHECK(out[0].position == c.position);

  SECTION("without headers the position is (source.lsn, 0)") {
    std::vector<Change> bare;
    REQUIRE(parser.Parse(msgs[0].key, msgs[0].value, {}, &bare).ok());
    CHECK(bare[0].position == Position{c.position.lsn, 0});
  }
  SECTION("the JsonConverter's schema/payload wrapper is unwrapped") {
    std::string wrapped = R"({"schema":{},"payload":)" + msgs[0].value + "}";
    std::string key = R"({"schema":{},"payload":{"id":7}})";
    std::vector<Change> w;
    REQUIRE(parser.Parse(key, wrapped, meta, &w).ok());
    CHECK(Line(w[0]) == Line(c));
  }
  SECTION("a key change arrives as a delete then a create") {
    Change k = Sample(Op::kUpdate);
    k.old_key = Row{{"id", Int("6")}};
    MessageList split;
    BuildMessages(k, {Format::kDebezium, false}, 0, &split);
    REQUIRE(split.size() == 2);
    std::vector<Change> got;
    REQUIRE(parser.Parse(split[0].key, split[0].value, meta, &got).ok());
    REQUIRE(parser.Parse(split[1].key, split[1].value, meta, &got).ok());
    REQUIRE(got.size() == 2);
    CHECK(got[0].op == Op::kDelete);
    CHECK(got[0].key == Row{{"id", Int("6")}});
    CHECK(got[1].op == Op::kInsert);
    CHECK(got[1].key == Row{{"id", Int("7")}});
  }
}

TEST_CASE("KafkaEnvelope: what is not an envelope is rejected, saying why", "[unit][kafka]") {
  EnvelopeParser parser(InputFormat::kAuto);
  std::vector<Change> out;
  CHECK(parser.Parse(std::nullopt, std::string("not json"), {}, &out).code() ==
        StatusCode::kRejected);
  CHECK(parser.Parse(std::nullopt, std::string("[1]"), {}, &out).code() == StatusCode::kRejected);
  Status s = parser.Parse(std::nullopt, std::string(R"({"op":"insert"})"), {}, &out);
  CHECK(s.code() == StatusCode::kRejected);
  CHECK(s.message().find("no 'source'") != std::string::npos);
  s = parser.Parse(std::nullopt,
                   std::string(R"({"op":"explode","source":"s","schema":"p","table":"t",)"
                               R"("key":{},"lsn":"0/1"})"),
                   {}, &out);
  CHECK(s.message().find("unknown op 'explode'") != std::string::npos);
  EnvelopeParser sluice_only(InputFormat::kSluice);
  s = sluice_only.Parse(std::nullopt, std::string(R"({"op":"c","source":{}})"), {}, &out);
  CHECK(s.code() == StatusCode::kRejected);
  CHECK(out.empty());
}

TEST_CASE("KafkaEnvelope: timestamps and header positions", "[unit][kafka]") {
  CHECK(ParseTimestampUs(FormatTimestampUs(1795000000123456)) == 1795000000123456);
  CHECK(ParseTimestampUs("1970-01-01T00:00:01Z") == 1000000);
  CHECK(ParseTimestampUs("1970-01-01T00:00:01.5Z") == 1500000);
  CHECK_FALSE(ParseTimestampUs("yesterday").has_value());
  // The seconds part is remembered between calls; what follows it is checked every time.
  CHECK(ParseTimestampUs("2026-11-24T10:00:00.25Z") == 1795514400250000);
  CHECK(ParseTimestampUs("2026-11-24T10:00:00.5Z") == 1795514400500000);
  CHECK(ParseTimestampUs("2026-11-24T10:00:00Z") == 1795514400000000);
  CHECK_FALSE(ParseTimestampUs("2026-11-24T10:00:00.5x").has_value());
  CHECK_FALSE(ParseTimestampUs("2026-11-24T10:00:00.5aZ").has_value());
  CHECK_FALSE(ParseTimestampUs("2026-11-24T10:00:0x.5Z").has_value());
  CHECK(ParseTimestampUs("2026-11-24T10:00:01Z") == 1795514401000000);
  CHECK(PositionFromHeaders(std::string_view("16/B374D848"), std::string_view("3")) ==
        Position{Lsn(0x16B374D848), 3});
  CHECK_FALSE(PositionFromHeaders(std::string_view("16/B374D848"), std::nullopt));
  CHECK_FALSE(PositionFromHeaders(std::string_view("x"), std::string_view("3")));
}

TEST_CASE("KafkaOffsets: only durable offsets of owned partitions are committable",
          "[unit][kafka]") {
  OffsetTracker t;
  TopicPartition p0{"t", 0}, p1{"t", 1};
  t.Assign({p0, p1});
  t.Record(1, {{p0, 10}, {p1, 5}});
  t.Record(2, {{p0, 20}});
  CHECK(t.Committable().empty());  // nothing durable yet
  CHECK_FALSE(t.AllConfirmed());
  t.Confirm(1);
  CHECK(t.Committable() == OffsetMap{{p0, 10}, {p1, 5}});
  t.Committed({{p0, 10}, {p1, 5}});
  CHECK(t.Committable().empty());
  t.Confirm(2);
  CHECK(t.AllConfirmed());
  CHECK(t.Committable() == OffsetMap{{p0, 20}});

  SECTION("a revoked partition never commits again, even when its batch turns durable") {
    t.Record(3, {{p0, 30}, {p1, 9}});
    t.Revoke({p1});
    t.Confirm(3);
    CHECK(t.Committable() == OffsetMap{{p0, 30}});
    // Owned again later, reading from another member's committed offset: only what this
    // tenure read counts; the old tenure's 9 never comes back.
    t.Assign({p1});
    t.Record(4, {{p1, 12}});
    t.Confirm(4);
    CHECK(t.Committable() == OffsetMap{{p0, 30}, {p1, 12}});
  }
  SECTION("offsets never move backwards") {
    t.Committed({{p0, 20}});
    t.Record(5, {{p0, 15}});
    t.Confirm(5);
    CHECK(t.Committable().empty());
  }
}

TEST_CASE("KafkaSource: which topics a pipe reads", "[unit][kafka]") {
  using V = std::vector<std::string>;
  CHECK(SubscriptionFor({{"shop", "orders"}}, {}).value() == V{"shop.orders"});
  CHECK(SubscriptionFor({{"shop", "*"}}, {}).value() == V{"^shop\\..+$"});
  CHECK(SubscriptionFor({{"*", "orders"}}, {}).value() == V{"^.+\\.orders$"});
  CHECK(SubscriptionFor({{"*", "*"}}, {"a.b.c", "^x.*"}).value() == V{"a.b.c", "^x.*"});
  CHECK(SubscriptionFor({{"*", "*"}}, {}).status().code() == StatusCode::kInvalidArgument);
  CHECK(SubscriptionFor({{"shop", "orders"}}, {"a"}).status().code() ==
        StatusCode::kInvalidArgument);
}

}  // namespace sluice::kafka
