// The Kafka source's fast path for sluice lines: what it takes, what it leaves to the general
// parser, and that both give the same change.
#include "connectors/kafka/line_reader.h"

#include <catch2/catch.hpp>
#include <cstring>

#include "connectors/kafka/kafka_envelope.h"
#include "util/change_json.h"

namespace sluice::kafka {
namespace {

Change Plain() {
  Change c;
  c.op = Op::kUpdate;
  c.table = std::make_shared<const TableId>(TableId{"shop", "public", "items"});
  c.key = {{"id", Value::Of(ValueKind::kInt, "-42")}};
  c.old_key = Row{{"id", Value::Of(ValueKind::kInt, "41")}};
  c.after = Row{{"id", Value::Of(ValueKind::kInt, "-42")},
                {"name", Value::Of(ValueKind::kString, "caf\xC3\xA9 \"quoted\"\n\t/\\")},
                {"ok", Value::Of(ValueKind::kBool, "false")},
                {"gone", Value::Null()},
                {"body", Value::Unchanged()}};
  c.position = {Lsn(0x16B3748), 3};
  c.commit_time_us = 1795000000123456;
  c.xid = 731;
  return c;
}

std::string Line(const Change& c) {
  std::string s;
  AppendChangeJson(c, &s);
  return s;
}

}  // namespace

TEST_CASE("LineReader: reads the sink's lines field by field", "[unit][kafka]") {
  SluiceFields f;
  REQUIRE(ReadSluiceLine(Line(Plain()), &f));
  CHECK(f.op == "update");
  CHECK(f.source == "shop");
  CHECK(f.table == "items");
  CHECK(f.lsn == "0/16B3748");
  CHECK(f.seq == 3u);
  CHECK(f.xid == 731u);
  CHECK(f.key == Row{{"id", Value::Of(ValueKind::kInt, "-42")}});
  CHECK(f.old_key == Row{{"id", Value::Of(ValueKind::kInt, "41")}});
  CHECK_FALSE(f.before);
  REQUIRE(f.after);
  CHECK(f.after->at(1).value.text == "caf\xC3\xA9 \"quoted\"\n\t/\\");
  CHECK(f.after->at(3).value.is_null());
  CHECK(f.unchanged == std::vector<std::string>{"body"});
  SECTION("long strings, escapes and UTF-8 at every offset of a word") {
    for (size_t pad = 0; pad < 20; ++pad) {
      std::string text = std::string(pad, 'x') + "caf\xC3\xA9 \"q\"\n" + std::string(pad, 'y') +
                         "\xF0\x9F\x98\x80\\";
      Change c = Plain();
      c.after->at(1).value.text = text;
      REQUIRE(ReadSluiceLine(Line(c), &f));
      CHECK(f.after->at(1).value.text == text);
    }
  }
  SECTION("with spaces between the tokens") {
    REQUIRE(ReadSluiceLine(R"( { "op" : "delete" , "key" : { "id" : 1 } , "x" : true } )", &f));
    CHECK(f.op == "delete");
    CHECK(f.key == Row{{"id", Value::Of(ValueKind::kInt, "1")}});
  }
}

TEST_CASE("LineReader: leaves everything unusual to the general parser", "[unit][kafka]") {
  SluiceFields f;
  for (const char* text :
       {R"({"op":"insert","after":{"doc":{"a":1}}})",  // nested JSON
        R"({"op":"insert","after":{"r":0.5}})",        // a float
        R"({"op":"insert","after":{"r":1e3}})", R"({"op":"insert","after":{"n":-0}})",
        R"({"op":"insert","after":{"n":0123}})",
        R"({"op":"insert","after":{"n":1234567890123456789}})",    // 19 digits
        R"({"op":"insert","after":{"s":"\u00e9"}})",               // \u escape
        "{\"op\":\"insert\",\"after\":{\"s\":\"\xC3\"}}",          // cut UTF-8
        "{\"op\":\"insert\",\"after\":{\"s\":\"\xED\xA0\x80\"}}",  // a surrogate
        "{\"op\":\"insert\",\"after\":{\"s\":\"a\x01\"}}",         // a control character
        // The same past a run of plain bytes read a word at a time.
        "{\"op\":\"insert\",\"after\":{\"s\":\"abcdefghijklmnop\x01\"}}",
        "{\"op\":\"insert\",\"after\":{\"s\":\"abcdefgh\xED\xA0\x80ijklmnop\"}}",
        "{\"op\":\"insert\",\"after\":{\"s\":\"abcdefghijklmnop\\u00e9\"}}",
        "{\"op\":\"insert\",\"after\":{\"s\":\"abcdefghijklmnop",  // no closing quote
        R"({"op":"insert","after":{"a":1,"a":2}})",                // a column twice
        R"({"op":"c","source":{"table":"t"}})",                    // Debezium
        R"({"schema":{},"payload":{}})", R"({"op":"insert"} x)", R"({"op":"insert")", "{}", "[1]",
        "", R"({"op":1})", R"({"seq":-1})", R"({"key":[1]})", R"({"unchanged":[1]})"}) {
    INFO(text);
    CHECK_FALSE(ReadSluiceLine(text, &f));
  }
}

TEST_CASE("LineReader: the fast and the general path give the same change", "[unit][kafka]") {
  EnvelopeParser parser(InputFormat::kAuto);
  std::string line = Line(Plain());
  // An unknown field holding an object: the fast path declines, the general one ignores it.
  std::string general = line.substr(0, line.size() - 1) + R"(,"extra":{"a":[1]}})";
  SluiceFields f;
  REQUIRE(ReadSluiceLine(line, &f));
  REQUIRE_FALSE(ReadSluiceLine(general, &f));
  std::vector<Change> out;
  REQUIRE(parser.Parse(std::nullopt, line, {}, &out).ok());
  REQUIRE(parser.Parse(std::nullopt, general, {}, &out).ok());
  REQUIRE(out.size() == 2);
  CHECK(Line(out[0]) == line);
  CHECK(Line(out[1]) == line);
  CHECK(out[0].position == out[1].position);
  CHECK(out[0].commit_time_us == out[1].commit_time_us);
  CHECK(out[0].xid == out[1].xid);
  SECTION("and the same errors") {
    for (const char* bad :
         {R"({"op":"explode","source":"s","schema":"p","table":"t","key":{},"lsn":"0/1"})",
          R"({"op":"insert","source":"s","schema":"p","table":"t","lsn":"0/1"})",
          R"({"op":"insert","source":"s","schema":"p","table":"t","key":{},"lsn":"x"})"}) {
      std::string slow = std::string(bad).substr(0, std::strlen(bad) - 1) + R"(,"extra":[]})";
      Status a = parser.Parse(std::nullopt, std::string(bad), {}, &out);
      Status b = parser.Parse(std::nullopt, slow, {}, &out);
      INFO(bad);
      CHECK(a.code() == StatusCode::kRejected);
      CHECK(a.message() == b.message());
    }
  }
}

}  // namespace sluice::kafka
