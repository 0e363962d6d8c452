// Core vocabulary: Lsn, positions, JSON rendering of changes, redaction, options.
#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/lsn.h"
#include "core/options.h"
#include "util/change_json.h"
#include "util/json_writer.h"
#include "util/printable.h"
#include "util/redact.h"

namespace sluice {

TEST_CASE("Lsn: text form round-trips and orders", "[unit][core]") {
  auto lsn = Lsn::Parse("16/B374D848");
  REQUIRE(lsn.has_value());
  CHECK(lsn->value() == 0x16B374D848ULL);
  CHECK(lsn->ToString() == "16/B374D848");
  CHECK(Lsn(0x16B3748).ToString() == "0/16B3748");
  CHECK(Lsn(0).ToString() == "0/0");
  CHECK(Lsn(0xFFFFFFFFFFFFFFFFULL).ToString() == "FFFFFFFF/FFFFFFFF");
  CHECK(Lsn(0x100000000ULL).ToString() == "1/0");
  CHECK(Lsn(0xA0000000F0ULL).ToString() == "A0/F0");
  CHECK_FALSE(Lsn::Parse("16B374D848").has_value());
  CHECK_FALSE(Lsn::Parse("/1").has_value());
  CHECK_FALSE(Lsn::Parse("1/").has_value());
  CHECK_FALSE(Lsn::Parse("1/xyz").has_value());
  CHECK(Position{Lsn(5), 0} < Position{Lsn(5), 1});
  CHECK(Position{Lsn(5), 9} < Position{Lsn(6), 0});
}

TEST_CASE("ChangeJson: every field, kinds rendered by meaning", "[unit][core]") {
  Change c;
  c.op = Op::kUpdate;
  c.table = std::make_shared<const TableId>(TableId{"shop", "public", "products"});
  c.key = {{"id", Value::Of(ValueKind::kInt, "7")}};
  c.old_key = Row{{"id", Value::Of(ValueKind::kInt, "6")}};
  c.after = Row{{"id", Value::Of(ValueKind::kInt, "7")},
                {"price", Value::Of(ValueKind::kNumeric, "12345678901234567890.01")},
                {"ratio", Value::Of(ValueKind::kFloat, "NaN")},
                {"doc", Value::Of(ValueKind::kJson, "{\"a\":1}")},
                {"name", Value::Of(ValueKind::kString, "quote\" tab\t nl\n \x01")},
                {"body", Value::Unchanged()},
                {"gone", Value::Null()},
                {"ok", Value::Of(ValueKind::kBool, "true")}};
  c.position = Position{Lsn(0x16B3748), 3};
  c.commit_time_us = 1795000000123456;
  c.xid = 731;
  std::string line;
  AppendChangeJson(c, &line);
  auto j = nlohmann::json::parse(line);
  CHECK(j["op"] == "update");
  CHECK(j["source"] == "shop");
  CHECK(j["schema"] == "public");
  CHECK(j["table"] == "products");
  CHECK(j["key"]["id"] == 7);
  CHECK(j["old_key"]["id"] == 6);
  CHECK(j["before"].is_null());
  CHECK(j["after"]["price"] == "12345678901234567890.01");
  CHECK(j["after"]["ratio"] == "NaN");
  CHECK(j["after"]["doc"]["a"] == 1);
  CHECK(j["after"]["name"] == "quote\" tab\t nl\n \x01");
  CHECK_FALSE(j["after"].contains("body"));                  // unchanged TOAST is not null...
  CHECK(j["unchanged"] == nlohmann::json::array({"body"}));  // ...it is listed as unchanged
  CHECK(j["after"]["gone"].is_null());
  CHECK(j["after"]["ok"] == true);
  CHECK(j["lsn"] == "0/16B3748");
  CHECK(j["seq"] == 3);
  CHECK(j["commit_time"] == "2026-11-18T11:06:40.123456Z");
  CHECK(j["xid"] == 731);
}

TEST_CASE("AppendJsonEscaped, JsonWriter: any text, escapes at any offset, reads back the same",
          "[unit][core]") {
  // Valid UTF-8 built from ASCII (controls, quotes and backslashes included) and a few
  // multi-byte characters, so the 8-byte fast path meets escapes at every alignment.
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           "0",
                                           " ",
                                           "\"",
                                           "\\",
                                           "\n",
                                           "\t",
                                           std::string(1, '\x01'),
                                           std::string(1, '\x1f'),
                                           "\x7f",
                                           "/",
                                           "\xc3\xa9",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80"};
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    size_t n = rng() % 40;
    for (size_t i = 0; i < n; ++i) {
      // Mostly plain letters: long runs take the fast path, escapes interrupt them.
      text += rng() % 4 ? "x" : pieces[rng() % pieces.size()];
    }
    std::string out = "[";
    AppendJsonEscaped(&out, text);
    out = "[\"" + out.substr(1) + "\"]";
    auto parsed = nlohmann::json::parse(out, nullptr, false);
    INFO(out);
    REQUIRE(parsed.is_array());
    CHECK(parsed[0].get<std::string>() == text);
    CHECK(out.size() == nlohmann::json(text).dump().size() + 2);  // no escape it need not
    // The same text as a key and as values through JsonWriter (short ones take one append
    // with their quotes and separators).
    std::string doc;
    JsonWriter w(&doc);
    w.BeginObject();
    w.Key("k");
    w.String(text);
    w.Key(text);
    w.BeginArray();
    w.String(text);
    w.String(text);
    w.EndArray();
    w.EndObject();
    auto obj = nlohmann::json::parse(doc, nullptr, false);
    INFO(doc);
    REQUIRE(obj.is_object());
    CHECK(obj["k"] == text);
    CHECK(obj[text] == nlohmann::json::array({text, text}));
  }
}

TEST_CASE("JsonWriter: commas between elements at every depth, none at the top level",
          "[unit][core]") {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("a");
  w.BeginArray();
  w.Int(1);
  w.BeginObject();
  w.EndObject();
  w.BeginArray();
  w.BeginArray();
  w.EndArray();
  w.Null();
  w.EndArray();
  w.String("x");
  w.EndArray();
  w.Key("b");
  w.BeginObject();
  w.Key("c");
  w.Bool(true);
  w.Key("d");
  w.UInt(2);
  w.EndObject();
  w.Key("e");
  w.Raw("[3]");
  w.EndObject();
  CHECK(out == R"({"a":[1,{},[[],null],"x"],"b":{"c":true,"d":2},"e":[3]})");
  // Two top-level values in one string: written side by side, as before.
  std::string two;
  JsonWriter v(&two);
  v.BeginObject();
  v.EndObject();
  v.Int(4);
  CHECK(two == "{}4");
}

TEST_CASE("FormatTimestampUs: ISO 8601 in UTC, microseconds, across seconds and before 1970",
          "[unit][core]") {
  CHECK(FormatTimestampUs(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(FormatTimestampUs(1795000000123456) == "2026-11-18T11:06:40.123456Z");
  CHECK(FormatTimestampUs(1795000000999999) == "2026-11-18T11:06:40.999999Z");
  CHECK(FormatTimestampUs(1795000001000000) == "2026-11-18T11:06:41.000000Z");
  CHECK(FormatTimestampUs(1795000000000007) == "2026-11-18T11:06:40.000007Z");
  CHECK(FormatTimestampUs(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(FormatTimestampUs(1795000000123456) == "2026-11-18T11:06:40.123456Z");  // cached again
}

TEST_CASE("Redact: passwords in conninfo and URLs never reach logs", "[unit][core]") {
  CHECK(Redact("host=db password=s3cr3t user=u") == "host=db password=*** user=u");
  CHECK(Redact("password='a b' x=1") == "password=*** x=1");
  CHECK(Redact("redis://user:hunter2@cache:6379/0") == "redis://user:***@cache:6379/0");
  CHECK(Redact("postgres://app:pw@db/shop?sslmode=require") ==
        "postgres://app:***@db/shop?sslmode=require");
  CHECK(Redact("https://es:9200/_bulk") == "https://es:9200/_bulk");
  CHECK(Redact("no secrets here") == "no secrets here");
  CHECK(Redact("host=db password = s3cr3t user=u") == "host=db password = *** user=u");
  CHECK(Redact("password=Back\\ Slash host=db") == "password=*** host=db");
  CHECK(Redact("password='a b\\'c' host=db") == "password=*** host=db");
  CHECK(Redact("sslpassword=k3y ssl_key_password=x2 PASSWORD=y3") ==
        "sslpassword=*** ssl_key_password=*** PASSWORD=***");
  CHECK(Redact("https://es/_bulk?token=t0k&x=1#a") == "https://es/_bulk?token=***&x=1#a");
  CHECK(Redact("redis://:pa@ss@cache:6379/0") == "redis://:***@cache:6379/0");
  CHECK(Redact("passwords=1 tokenizer=2 my_token_type=3") ==
        "passwords=1 tokenizer=2 my_token_type=3");
  CHECK(Redact("password authentication failed") == "password authentication failed");
  CHECK(Redact("password='never closed host=db") == "password=***");
}

TEST_CASE("Redact: known secrets are hidden wherever they occur", "[unit][core]") {
  AddSecret("k7-short");
  AddSecret("k7-short-and-longer");
  AddSecret("k7");  // below kMinSecretLength: ignored
  AddSecret("");
  CHECK(Redact("a k7-short-and-longer b k7-short c k7 d") == "a *** b *** c k7 d");
  CHECK(Redact("{\"pw\":\"k7-shortk7-short\"}") == "{\"pw\":\"******\"}");
  // Concurrent adds and redactions (log lines from many threads while a config loads).
  std::vector<std::thread> threads;
  std::atomic<int> leaks{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &leaks] {
      for (int i = 0; i < 200; ++i) {
        std::string secret = "k7-thread-" + std::to_string(t) + "-" + std::to_string(i) + "!";
        AddSecret(secret);
        if (Redact("x " + secret + " y") != "x *** y") ++leaks;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(leaks == 0);
}

TEST_CASE("WrittenSecrets: what Redact's rules hide, as written and decoded", "[unit][core]") {
  using V = std::vector<std::string>;
  CHECK(WrittenSecrets("redis://u:p%40ss@h:6379/0") == V{"p%40ss", "p@ss"});
  CHECK(WrittenSecrets("https://elastic:plain@es:9200") == V{"plain"});
  CHECK(WrittenSecrets("host=db password = 'a b\\'c' user=u") == V{"a b\\'c"});
  CHECK(WrittenSecrets("password=Back\\ Slash sslpassword=k3y") == V{"Back\\ Slash", "k3y"});
  CHECK(WrittenSecrets("postgresql://u:pw@db/x?password=q%26") == V{"pw", "q%26"});
  CHECK(WrittenSecrets("redis://h:6379/0").empty());
  CHECK(WrittenSecrets("redis://user@h").empty());
  CHECK(WrittenSecrets("redis://u:@h").empty());
  CHECK(UrlSecrets("https://u:x%2Fy@es").value() == V{"x%2Fy", "x/y"});
}

TEST_CASE("Options: typed values validated, defaults filled", "[unit][core]") {
  OptionSpec dur{"flush", OptionType::kDuration, "1s"};
  CHECK(ValidateOption(dur, "250ms").ok());
  CHECK(ValidateOption(dur, "2m").ok());
  CHECK(ValidateOption(dur, "soon").message() ==
        "option 'flush' expects a duration such as 500ms, 5s, 2m, got 'soon'");
  OptionSpec size{"buffer", OptionType::kBytes};
  CHECK(ParseBytes("5MB") == 5u * 1024 * 1024);
  CHECK_FALSE(ValidateOption(size, "5 parsecs").ok());
  OptionSpec secret{"password", OptionType::kSecret};
  OptionSpec num{"n", OptionType::kInt};
  CHECK(ValidateOption(num, "12x").message().find("'12x'") != std::string::npos);
  OptionSpec e{"format", OptionType::kEnum, "json", false, "", {"json", "hash"}};
  CHECK(ValidateOption(e, "xml").message() ==
        "option 'format' expects one of: json, hash, got 'xml'");
  Options o = WithDefaults({dur, size}, {{"buffer", "64KB"}});
  CHECK(o.Duration("flush") == std::chrono::milliseconds(1000));
  CHECK(o.Bytes("buffer") == 64u * 1024);
}

}  // namespace sluice

namespace sluice {

TEST_CASE("Printable: control characters and invalid UTF-8 become escapes", "[unit][core]") {
  CHECK(Printable("plain text, caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "plain text, caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(Printable("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(Printable(std::string("\x00\x01\x1f\x7f", 4)) == "\\x00\\x01\\x1f\\x7f");
  CHECK(Printable("\xc2\x85 \xc2\x9f \xc2\xa0") == "\\u0085 \\u009f \xc2\xa0");  // C1, then NBSP
  CHECK(Printable("\xff \xc3 \xc0\x80 \xe0\x80\x80 \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82") ==
        "\\xff \\xc3 \\xc0\\x80 \\xe0\\x80\\x80 \\xed\\xa0\\x80 \\xf4\\x90\\x80\\x80 \\xe2\\x82");
  CHECK(Printable("a\\nb") == "a\\nb");  // backslashes kept: escapes already made stay as they are
  CHECK(QuotePrintable("a\\n\nb") == "'a\\\\n\\nb'");
}

}  // namespace sluice
