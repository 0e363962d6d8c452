// Redis sink, pure parts: key templates, positions, script records, URLs, error mapping.
#include "sinks/redis/redis_builder.h"

#include <catch2/catch.hpp>

#include "sinks/redis/redis_client.h"
#include "sinks/redis/redis_key.h"

namespace sluice::redis {
namespace {

std::shared_ptr<const TableId> Products() {
  return std::make_shared<const TableId>(TableId{"shop", "public", "products"});
}

Value Int(const char* v) { return Value::Of(ValueKind::kInt, v); }
Value Str(const char* v) { return Value::Of(ValueKind::kString, v); }

std::vector<std::string> Args(const ArgList& a) {
  std::vector<std::string> out;
  for (size_t i = 0; i < a.size(); ++i) out.emplace_back(a.at(i));
  return out;
}

}  // namespace

TEST_CASE("RedisKeyTemplate: columns, schema and table, braces, default", "[unit][redis]") {
  TableId t{"shop", "public", "products"};
  Row key = {{"id", Int("7")}, {"region", Str("eu")}};
  Row after = {{"id", Int("7")}, {"region", Str("eu")}, {"sku", Str("A-1")}};
  std::string out;

  SECTION("columns and names") {
    auto k = KeyTemplate::Parse("{schema}.{table}:{region}/{id}:{sku}");
    REQUIRE(k.ok());
    CHECK(k->Columns() == std::vector<std::string>{"region", "id", "sku"});
    REQUIRE(k->Render(t, {&key, &after}, key, &out).ok());
    CHECK(out == "public.products:eu/7:A-1");
  }
  SECTION("literal braces") {
    auto k = KeyTemplate::Parse("{{x}}:{id}");
    REQUIRE(k.ok());
    REQUIRE(k->Render(t, {&key}, key, &out).ok());
    CHECK(out == "{x}:7");
  }
  SECTION("default: table and key columns joined by ':'") {
    auto k = KeyTemplate::Parse("");
    REQUIRE(k.ok());
    CHECK(k->is_default());
    REQUIRE(k->Render(t, {&key}, key, &out).ok());
    CHECK(out == "products:7:eu");
  }
  SECTION("default with the pipe's target as prefix") {
    auto k = KeyTemplate::Parse("", "product");
    REQUIRE(k.ok());
    REQUIRE(k->Render(t, {&key}, key, &out).ok());
    CHECK(out == "product:7:eu");
  }
  SECTION("a column the change does not carry is a config error naming it") {
    auto k = KeyTemplate::Parse("p:{sku}");
    REQUIRE(k.ok());
    Status s = k->Render(t, {&key, nullptr}, key, &out);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("names column sku") != std::string::npos);
    CHECK(s.message().find("shop.public.products") != std::string::npos);
    CHECK(s.message().find("id, region") != std::string::npos);
  }
  SECTION("NULL or unchanged values reject that change only") {
    auto k = KeyTemplate::Parse("p:{sku}");
    REQUIRE(k.ok());
    Row null_sku = {{"sku", Value::Null()}};
    CHECK(k->Render(t, {&null_sku}, key, &out).code() == StatusCode::kRejected);
    Row toast_sku = {{"sku", Value::Unchanged()}};
    CHECK(k->Render(t, {&toast_sku}, key, &out).code() == StatusCode::kRejected);
  }
  SECTION("syntax errors") {
    CHECK(KeyTemplate::Parse("p:{id").status().code() == StatusCode::kInvalidArgument);
    CHECK(KeyTemplate::Parse("p:id}").status().code() == StatusCode::kInvalidArgument);
    CHECK(KeyTemplate::Parse("p:{}").status().code() == StatusCode::kInvalidArgument);
    CHECK(KeyTemplate::Parse("constant").status().code() == StatusCode::kInvalidArgument);
    CHECK(KeyTemplate::Parse("{table}").status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("RedisBuilder: positions are fixed-width hex that sort like positions", "[unit][redis]") {
  CHECK(PositionHex({Lsn(0x16B3748), 3}) == "00000000016b37480000000000000003");
  CHECK(PositionHex({Lsn(~0ULL), ~0ULL}) == std::string(32, 'f'));
  CHECK(PositionHex({Lsn(5), 9}) < PositionHex({Lsn(6), 0}));
  CHECK(PositionHex({Lsn(5), 0}) < PositionHex({Lsn(5), 1}));
}

TEST_CASE("RedisBuilder: meta keys and SCAN patterns", "[unit][redis]") {
  TableId t{"shop", "public", "products"};
  CHECK(PosKey("sluice:", t, "product:1") == "sluice:pos:shop.public.products:product:1");
  CHECK(MarkKey("sluice:", t) == "sluice:trunc:shop.public.products");
  CHECK(GlobEscape("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\");
}

TEST_CASE("RedisBuilder: script records for json, hash and delete", "[unit][redis]") {
  Change c;
  c.op = Op::kUpdate;
  c.table = Products();
  c.key = {{"id", Int("1")}};
  c.after = Row{{"id", Int("1")},
                {"name", Str("a \"b\"")},
                {"body", Value::Unchanged()},
                {"note", Value::Null()},
                {"doc", Value::Of(ValueKind::kJson, "{\"x\": [1, 2]}")}};
  c.position = {Lsn(0x10), 2};
  RecordKeys keys{"products:1", ""};
  ArgList args;
  const std::string header =
      "u200000000000000100000000000000002"
      "3";  // flags 2, table 3

  SECTION("json: unchanged as quoted member names, NULL kept, row without unchanged") {
    AppendRecord(Format::kJson, c, keys, 3, &args);
    CHECK(Args(args) ==
          std::vector<std::string>{header, "products:1", "1", "\"body\"",
                                   R"({"id":1,"name":"a \"b\"","note":null,"doc":{"x": [1, 2]}})"});
  }
  SECTION("hash: plain unchanged names, NULL left out, pairs") {
    AppendRecord(Format::kHash, c, keys, 3, &args);
    CHECK(Args(args) == std::vector<std::string>{header, "products:1", "1", "body", "3", "id", "1",
                                                 "name", "a \"b\"", "doc", "{\"x\": [1, 2]}"});
  }
  SECTION("an update without unchanged columns carries only header, key and row") {
    c.after = Row{{"id", Int("1")}};
    AppendRecord(Format::kJson, c, keys, 1, &args);
    CHECK(Args(args) == std::vector<std::string>{"u0000000000000001000000000000000021",
                                                 "products:1", R"({"id":1})"});
  }
  SECTION("delete carries no payload; old key travels with the record") {
    c.op = Op::kDelete;
    c.after.reset();
    keys.old_key = "products:0";
    AppendRecord(Format::kJson, c, keys, 12, &args);
    CHECK(Args(args) == std::vector<std::string>{"d10000000000000010000000000000000212",
                                                 "products:1", "products:0"});
  }
  SECTION("the table list ends the call") {
    TableId t{"shop", "public", "products"};
    AppendTables("sluice:", {&t}, &args);
    CHECK(Args(args) == std::vector<std::string>{"sluice:pos:shop.public.products:",
                                                 "sluice:trunc:shop.public.products", "1"});
  }
  SECTION("RowJson and RowHash are what users read") {
    CHECK(RowJson(*c.after) == R"({"id":1,"name":"a \"b\"","note":null,"doc":{"x": [1, 2]}})");
    CHECK(RowHash(*c.after).size() == 3);
  }
}

TEST_CASE("RedisUrl: parses user, password, host, port and db", "[unit][redis]") {
  auto u = RedisUrl::Parse("redis://alice:p%40ss:word@db.internal:6380/3");
  REQUIRE(u.ok());
  CHECK(u->user == "alice");
  CHECK(u->password == "p@ss:word");
  CHECK(u->host == "db.internal");
  CHECK(u->port == 6380);
  CHECK(u->db == 3);
  CHECK(u->ToString() == "redis://db.internal:6380/3");  // never the password

  auto p = RedisUrl::Parse("redis://:secret@127.0.0.1");
  REQUIRE(p.ok());
  CHECK(p->user.empty());
  CHECK(p->password == "secret");
  CHECK(p->port == 6379);
  CHECK(p->db == 0);

  auto v6 = RedisUrl::Parse("redis://[::1]:7000/1");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 7000);

  CHECK(RedisUrl::Parse("http://x").status().code() == StatusCode::kInvalidArgument);
  CHECK(RedisUrl::Parse("rediss://x").status().message().find("TLS") != std::string::npos);
  CHECK(RedisUrl::Parse("redis://x:port/0").status().code() == StatusCode::kInvalidArgument);
  CHECK(RedisUrl::Parse("redis://x:1/db").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("RedisClient: error replies map to what the sink should do", "[unit][redis]") {
  auto code = [](const char* e) { return ErrorReplyToStatus(e, "redis").code(); };
  CHECK(code("OOM command not allowed when used memory > 'maxmemory'.") ==
        StatusCode::kUnavailable);
  CHECK(code("LOADING Redis is loading the dataset in memory") == StatusCode::kUnavailable);
  CHECK(code("BUSY Redis is busy running a script.") == StatusCode::kUnavailable);
  CHECK(code("READONLY You can't write against a read only replica.") == StatusCode::kUnavailable);
  CHECK(code("WRONGPASS invalid username-password pair or user is disabled.") ==
        StatusCode::kInvalidArgument);
  CHECK(code("NOAUTH Authentication required.") == StatusCode::kInvalidArgument);
  CHECK(code("ERR DB index is out of range") == StatusCode::kInvalidArgument);
  CHECK(code("NOSCRIPT No matching script.") == StatusCode::kNotFound);
  CHECK(code("WRONGTYPE Operation against a key holding the wrong kind of value") ==
        StatusCode::kInternal);
  CHECK(ErrorReplyToStatus("OOM x", "sink cache").message().find("out of memory") !=
        std::string::npos);
}

}  // namespace sluice::redis
