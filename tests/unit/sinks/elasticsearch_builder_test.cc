// Payload building, answer reading and option mapping of the elasticsearch sink (no server).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sinks/elasticsearch/es_builder.h"
#include "sinks/elasticsearch/es_client.h"
#include "sinks/elasticsearch/es_options.h"
#include "support/changes.h"

namespace sluice::es {
namespace {

using nlohmann::json;
using test::IntValue;
using test::StrValue;

std::shared_ptr<const TableId> Table() { return test::MakeTable("shop", "public", "Products"); }

Change Upsert(int64_t id, const std::string& name, uint64_t lsn, uint64_t seq = 1) {
  return test::KeyedChange(Op::kUpdate, Table(), id, lsn, seq,
                           Row{{"id", IntValue(id)},
                               {"name", StrValue(name)},
                               {"price", Value::Of(ValueKind::kNumeric, "1.50")}});
}

EsSinkOptions Defaults(const std::string& target = "products") {
  auto o = ParseEsOptions(WithDefaults(EsOptionSpecs(), {}), target);
  REQUIRE(o.ok());
  return o.value();
}

}  // namespace

TEST_CASE("EsBuilder: index names from templates", "[unit][elasticsearch]") {
  TableId t{"shop", "public", "Products"};
  CHECK(RenderIndex("{target}", t, "products").value() == "products");
  CHECK(RenderIndex("{schema}_{table}", t, "").value() == "public_products");
  CHECK(RenderIndex("{source}-{table}", t, "x").value() == "shop-products");
  CHECK(RenderIndex("{target}", t, "").value() == "products");
  CHECK_FALSE(RenderIndex("{nope}", t, "").ok());
  CHECK_FALSE(RenderIndex("{table", t, "").ok());
}

TEST_CASE("EsBuilder: document ids from the key", "[unit][elasticsearch]") {
  Row key = {{"tenant", Value::Of(ValueKind::kString, "acme")},
             {"id", Value::Of(ValueKind::kInt, "42")}};
  CHECK(RenderId("", key, nullptr).value() == "acme:42");
  CHECK(RenderId("{id}", key, nullptr).value() == "42");
  Row row = {{"sku", Value::Of(ValueKind::kString, "X-1")}};
  CHECK(RenderId("{tenant}/{sku}", key, &row).value() == "acme/X-1");
  CHECK(RenderId("{missing}", key, &row).status().code() == StatusCode::kRejected);
  Row long_key = {{"id", Value::Of(ValueKind::kString, std::string(600, 'x'))}};
  CHECK(RenderId("", long_key, nullptr).status().code() == StatusCode::kRejected);
}

TEST_CASE("EsBuilder: bulk items carry the commit LSN as an external_gte version",
          "[unit][elasticsearch]") {
  EsSinkOptions o = Defaults();
  auto items = ItemsFor(Upsert(7, "seven", 0x1234), o, "products");
  REQUIRE(items.ok());
  REQUIRE(items->size() == 1);
  std::string ndjson;
  AppendBulkItem(items->at(0), &ndjson);
  auto nl = ndjson.find('\n');
  auto action = json::parse(ndjson.substr(0, nl));
  CHECK(action["index"]["_index"] == "products");
  CHECK(action["index"]["_id"] == "7");
  CHECK(action["index"]["version"] == 0x1234);
  CHECK(action["index"]["version_type"] == "external_gte");
  auto source = json::parse(ndjson.substr(nl + 1, ndjson.size() - nl - 2));
  CHECK(source == json::parse(R"({"id":7,"name":"seven","price":"1.50"})"));
  CHECK(ndjson.back() == '\n');

  SECTION("a delete has no source line") {
    Change d = Upsert(7, "", 0x2000);
    d.op = Op::kDelete;
    d.after.reset();
    auto del = ItemsFor(d, o, "products");
    REQUIRE(del.ok());
    std::string out;
    AppendBulkItem(del->at(0), &out);
    CHECK(json::parse(out)["delete"]["version"] == 0x2000);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  }
  SECTION("a key change deletes the old document") {
    Change c = Upsert(8, "eight", 0x3000);
    c.old_key = Row{{"id", Value::Of(ValueKind::kInt, "7")}};
    auto two = ItemsFor(c, o, "products");
    REQUIRE(two->size() == 2);
    CHECK(two->at(0).action == BulkItem::Action::kDelete);
    CHECK(two->at(0).id == "7");
    CHECK(two->at(1).id == "8");
  }
  SECTION("routing") {
    o.routing_column = "name";
    auto r = ItemsFor(Upsert(1, "r1", 5), o, "products");
    std::string out;
    AppendBulkItem(r->at(0), &out);
    CHECK(json::parse(out.substr(0, out.find('\n')))["index"]["routing"] == "r1");
    Change d = Upsert(1, "", 6);
    d.op = Op::kDelete;
    d.after.reset();
    CHECK(ItemsFor(d, o, "products").status().code() == StatusCode::kRejected);
  }
}

TEST_CASE("EsBuilder: unchanged TOAST columns never become missing", "[unit][elasticsearch]") {
  EsSinkOptions o = Defaults();
  Change c = Upsert(1, "x", 10);
  FindField(*c.after, "name")->value = Value::Unchanged();
  auto refused = ItemsFor(c, o, "products");
  CHECK(refused.status().code() == StatusCode::kRejected);
  CHECK(refused.status().message().rfind("unchanged TOAST column 'name'", 0) == 0);
  // With the old row (REPLICA IDENTITY FULL) the value comes from it.
  c.before = Row{{"id", Value::Of(ValueKind::kInt, "1")},
                 {"name", Value::Of(ValueKind::kString, "long text")}};
  auto filled = ItemsFor(c, o, "products");
  REQUIRE(filled.ok());
  CHECK(json::parse(filled->at(0).source)["name"] == "long text");
}

TEST_CASE("EsBuilder: reading _bulk answers", "[unit][elasticsearch]") {
  // The shape of docs-bulk's response example.
  std::string body = R"({"took":3,"errors":true,"items":[
    {"index":{"_index":"t","_id":"1","status":201,"result":"created"}},
    {"index":{"_index":"t","_id":"2","status":409,"error":{"type":"version_conflict_engine_exception","reason":"v"}}},
    {"index":{"_index":"t","_id":"3","status":429,"error":{"type":"es_rejected_execution_exception","reason":"busy"}}},
    {"index":{"_index":"t","_id":"4","status":400,"error":{"type":"mapper_parsing_exception","reason":"bad","caused_by":{"type":"illegal_argument_exception","reason":"For input string"}}}},
    {"delete":{"_index":"t","_id":"5","status":404,"result":"not_found"}},
    {"index":{"_index":"t","_id":"6","status":503,"error":{"type":"unavailable_shards_exception","reason":"x"}}},
    {"index":{"_index":"t","_id":"7","status":403,"error":{"type":"security_exception","reason":"no"}}}]})";
  auto r = ParseBulkResponse(body, 7);
  REQUIRE(r.ok());
  CHECK(Classify(r->at(0)) == Outcome::kDone);
  CHECK(Classify(r->at(1)) == Outcome::kDone);
  CHECK(Classify(r->at(2)) == Outcome::kRetry);
  CHECK(Classify(r->at(3)) == Outcome::kReject);
  CHECK(r->at(3).reason.find("For input string") != std::string::npos);
  CHECK(Classify(r->at(4)) == Outcome::kDone);
  CHECK(Classify(r->at(5)) == Outcome::kRetry);
  CHECK(Classify(r->at(6)) == Outcome::kAuth);
  CHECK_FALSE(ParseBulkResponse(body, 6).ok());
  CHECK_FALSE(ParseBulkResponse("<html>", 1).ok());
}

TEST_CASE("EsBuilder: reading _bulk answers of any layout", "[unit][elasticsearch]") {
  SECTION("pretty-printed, members in any order, nested objects and tricky strings") {
    std::string body = R"({
      "took" : 30, "errors" : true,
      "items" : [
        { "index" : { "_index" : "t", "_id" : "a}\"]{[", "_version" : 1,
                      "_shards" : { "total" : 2, "successful" : 1, "failed" : 0 },
                      "status" : 201, "_seq_no" : 0 } },
        { "delete" : { "status" : 404, "result" : "not_found", "_index" : "t" } },
        { "index" : { "error" : { "type" : "mapper_parsing_exception", "reason" : "x \"y\"",
                                  "caused_by" : { "type" : "c", "reason" : "r" } },
                      "status" : 400 } },
        { "index" : { "status" : 500, "error" : "a plain string" } }
      ],
      "ingest_took" : 0
    })";
    auto r = ParseBulkResponse(body, 4);
    REQUIRE(r.ok());
    CHECK(r->at(0).status == 201);
    CHECK(r->at(0).error_type.empty());
    CHECK(Classify(r->at(1)) == Outcome::kDone);
    CHECK(r->at(2).status == 400);
    CHECK(r->at(2).error_type == "mapper_parsing_exception");
    CHECK(r->at(2).reason == "x \"y\" (c: r)");
    CHECK(r->at(3).error_type == "error");
    CHECK(r->at(3).reason == "\"a plain string\"");
    CHECK(Classify(r->at(3)) == Outcome::kRetry);
  }
  SECTION("an empty request's answer") {
    CHECK(ParseBulkResponse(R"({"took":0,"errors":false,"items":[]})", 0).ok());
  }
  SECTION("answers that cannot be trusted are refused") {
    for (const char* bad :
         {R"({"took":1,"errors":false})",                                   // no items
          R"({"items":[{"index":{"_id":"1","result":"created"}}]})",        // no status
          R"({"items":[{"index":{"status":201}}])",                         // cut short
          R"({"items":[{"index":{"status":"201"}}]})",                      // not a number
          R"({"items":[{"index":{"status":201,"error":{"type":"x",}}}]})",  // bad error
          "", "null", "[]"}) {
      CAPTURE(bad);
      CHECK(ParseBulkResponse(bad, 1).status().code() == StatusCode::kInternal);
    }
  }
}

TEST_CASE("EsOptions: parsing, mappings and TLS wiring", "[unit][elasticsearch]") {
  auto parse = [](std::map<std::string, std::string> given) {
    return ParseEsOptions(WithDefaults(EsOptionSpecs(), std::move(given)), "products");
  };
  auto d = parse({});
  REQUIRE(d.ok());
  CHECK(d->index_template == "products");
  CHECK(d->bulk_bytes == 5u * 1024 * 1024);
  CHECK(d->client.tls_verify);
  CHECK(d->toast == ToastPolicy::kFail);
  CHECK(parse({{"url", "ftp://x"}}).status().code() == StatusCode::kInvalidArgument);
  CHECK(parse({{"mappings", "{not json"}}).status().code() == StatusCode::kInvalidArgument);
  CHECK(parse({{"api_key", "k"}, {"username", "u"}}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(parse({{"mappings_file", "/nonexistent/m.json"}}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(parse({{"url", "https://es:9200/"}})->client.url == "https://es:9200");

  SECTION("TLS: verification on by default, CA file handed to curl") {
    auto o = parse({{"url", "https://es:9200"}, {"ca_file", "/etc/ssl/ca.pem"}});
    CurlTlsSettings t = TlsSettingsFor(o->client);
    CHECK(t.ca_file == "/etc/ssl/ca.pem");
    CHECK(t.verify_peer == 1);
    CHECK(t.verify_host == 2);
    auto off = parse({{"tls_verify", "false"}});
    CHECK(TlsSettingsFor(off->client).verify_peer == 0);
    CHECK(TlsSettingsFor(off->client).verify_host == 0);
  }
}

TEST_CASE("EsClient: HTTP answers become statuses", "[unit][elasticsearch]") {
  CHECK(HttpStatus({200, ""}, "x").ok());
  CHECK(HttpStatus({401, ""}, "x").code() == StatusCode::kInvalidArgument);
  CHECK(HttpStatus({403, ""}, "x").code() == StatusCode::kInvalidArgument);
  CHECK(HttpStatus({429, ""}, "x").code() == StatusCode::kUnavailable);
  CHECK(HttpStatus({503, ""}, "x").code() == StatusCode::kUnavailable);
  CHECK(HttpStatus({400, R"({"error":{"type":"t","reason":"r"}})"}, "x").message() ==
        "x answered HTTP 400: t: r");
  std::string text(10000, 'a');
  CHECK(Gzip(text).size() < 200);
}

}  // namespace sluice::es
