// Pins the test server to Elasticsearch's documented behaviour, so that sink tests against
// it mean something. Each case names the reference page it follows.
#include "support/es_test_server.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

namespace sluice::test {
namespace {

using nlohmann::json;

struct Answer {
  int status = 0;
  json body;
};

Answer Call(EsTestServer& server, const std::string& method, const std::string& path,
            const std::string& body = "", const std::string& type = "application/json") {
  httplib::Client c(server.url());
  httplib::Result r = method == "GET"      ? c.Get(path)
                      : method == "HEAD"   ? c.Head(path)
                      : method == "PUT"    ? c.Put(path, body, type)
                      : method == "DELETE" ? c.Delete(path, body, type)
                                           : c.Post(path, body, type);
  REQUIRE(r);
  Answer a;
  a.status = r->status;
  if (!r->body.empty()) a.body = json::parse(r->body);
  return a;
}

std::string Action(const std::string& action, const std::string& id, uint64_t version,
                   const std::string& type = "external_gte") {
  json meta = {{"_index", "t"}, {"_id", id}, {"version", version}, {"version_type", type}};
  return json{{action, meta}}.dump() + "\n";
}

json Item(const Answer& a, size_t i) { return a.body["items"][i].begin().value(); }

}  // namespace

TEST_CASE("EsTestServer: GET / reports a version like Elasticsearch", "[unit][es-server]") {
  EsTestServer s;
  auto a = Call(s, "GET", "/");
  CHECK(a.status == 200);
  CHECK(a.body["version"]["number"] == "8.11.0");
  s.SetVersion("opensearch", "2.11.0");
  CHECK(Call(s, "GET", "/").body["version"]["distribution"] == "opensearch");
}

TEST_CASE("EsTestServer: index creation (indices-create-index)", "[unit][es-server]") {
  EsTestServer s;
  CHECK(Call(s, "HEAD", "/products").status == 404);
  auto created =
      Call(s, "PUT", "/products", R"({"mappings":{"properties":{"qty":{"type":"integer"}}}})");
  CHECK(created.status == 200);
  CHECK(created.body["acknowledged"] == true);
  CHECK(Call(s, "HEAD", "/products").status == 200);
  CHECK(Call(s, "GET", "/products").body["products"]["mappings"]["properties"]["qty"]["type"] ==
        "integer");
  // Creating it again is 400 resource_already_exists_exception; the mapping is unchanged.
  auto again =
      Call(s, "PUT", "/products", R"({"mappings":{"properties":{"qty":{"type":"text"}}}})");
  CHECK(again.status == 400);
  CHECK(again.body["error"]["type"] == "resource_already_exists_exception");
  CHECK(s.Mappings("products") == R"({"properties":{"qty":{"type":"integer"}}})");
  // Index names must be lower case.
  CHECK(Call(s, "PUT", "/Products").body["error"]["type"] == "invalid_index_name_exception");
}

TEST_CASE("EsTestServer: _bulk versioning (docs-bulk, docs-index_ versioning)",
          "[unit][es-server]") {
  EsTestServer s;
  std::string body = Action("index", "1", 10) +
                     R"({"v":"a"})"
                     "\n" +
                     Action("index", "1", 10) +
                     R"({"v":"b"})"
                     "\n" +  // gte: equal applies
                     Action("index", "1", 9) +
                     R"({"v":"old"})"
                     "\n" +  // lower: 409
                     Action("index", "1", 10, "external") +
                     R"({"v":"c"})"
                     "\n";  // equal: 409
  auto a = Call(s, "POST", "/_bulk", body, "application/x-ndjson");
  REQUIRE(a.status == 200);  // 200 even when items fail, with errors: true
  CHECK(a.body["errors"] == true);
  CHECK(Item(a, 0)["status"] == 201);
  CHECK(Item(a, 0)["result"] == "created");
  CHECK(Item(a, 1)["status"] == 200);
  CHECK(Item(a, 1)["result"] == "updated");
  CHECK(Item(a, 2)["status"] == 409);
  CHECK(Item(a, 2)["error"]["type"] == "version_conflict_engine_exception");
  CHECK(Item(a, 3)["status"] == 409);
  auto doc = Call(s, "GET", "/t/_doc/1");
  CHECK(doc.body["_version"] == 10);
  CHECK(doc.body["_source"]["v"] == "b");
  CHECK(doc.body["found"] == true);

  SECTION("delete is versioned too and a missing document answers 404 not_found") {
    auto d = Call(s, "POST", "/_bulk",
                  Action("delete", "1", 5) + Action("delete", "1", 11) + Action("delete", "2", 3));
    CHECK(Item(d, 0)["status"] == 409);
    CHECK(Item(d, 1)["status"] == 200);
    CHECK(Item(d, 1)["result"] == "deleted");
    CHECK(Item(d, 2)["status"] == 404);
    CHECK(Item(d, 2)["result"] == "not_found");
    CHECK_FALSE(Item(d, 2).contains("error"));
    CHECK(Call(s, "GET", "/t/_doc/1").status == 404);
    // The delete's version is remembered: an older index after it is refused.
    auto late = Call(s, "POST", "/_bulk", Action("index", "1", 10) + "{}\n");
    CHECK(Item(late, 0)["status"] == 409);
  }
  SECTION("create fails on an existing document") {
    auto c = Call(s, "POST", "/_bulk",
                  json{{"create", {{"_index", "t"}, {"_id", "1"}}}}.dump() + "\n{}\n");
    CHECK(Item(c, 0)["status"] == 409);
  }
  SECTION("a version with internal versioning is refused for the whole request") {
    auto c =
        Call(s, "POST", "/_bulk",
             json{{"index", {{"_index", "t"}, {"_id", "1"}, {"version", 3}}}}.dump() + "\n{}\n");
    CHECK(c.status == 400);
    CHECK(c.body["error"]["type"] == "action_request_validation_exception");
  }
  SECTION("the body must end with a newline") {
    CHECK(Call(s, "POST", "/_bulk", Action("delete", "1", 99).substr(0, 40)).status == 400);
  }
}

TEST_CASE("EsTestServer: a mapping rejects one document, the others land", "[unit][es-server]") {
  EsTestServer s;
  Call(s, "PUT", "/t", R"({"mappings":{"properties":{"qty":{"type":"integer"}}}})");
  std::string body = Action("index", "1", 1) +
                     R"({"qty":5})"
                     "\n" +
                     Action("index", "2", 1) +
                     R"({"qty":"abc"})"
                     "\n" +
                     Action("index", "3", 1) +
                     R"({"qty":"7"})"
                     "\n";  // coerce: a numeric string
  auto a = Call(s, "POST", "/_bulk", body);
  CHECK(a.body["errors"] == true);
  CHECK(Item(a, 0)["status"] == 201);
  CHECK(Item(a, 1)["status"] == 400);
  CHECK(Item(a, 1)["error"]["type"] == "mapper_parsing_exception");
  CHECK(Item(a, 2)["status"] == 201);
  CHECK(s.Docs("t").size() == 2);
}

TEST_CASE("EsTestServer: injected 429s and slow answers", "[unit][es-server]") {
  EsTestServer s;
  SECTION("whole requests") {
    s.FailNextRequests(2, 429);
    auto a = Call(s, "GET", "/");
    CHECK(a.status == 429);
    CHECK(a.body["error"]["type"] == "es_rejected_execution_exception");
    CHECK(Call(s, "GET", "/").status == 429);
    CHECK(Call(s, "GET", "/").status == 200);
  }
  SECTION("items") {
    s.FailNextItems(1, 429);
    auto a = Call(s, "POST", "/_bulk",
                  Action("index", "1", 1) + "{}\n" + Action("index", "2", 1) + "{}\n");
    CHECK(a.body["errors"] == true);
    CHECK(Item(a, 0)["status"] == 429);
    CHECK(Item(a, 0)["error"]["type"] == "es_rejected_execution_exception");
    CHECK(Item(a, 1)["status"] == 201);
    CHECK_FALSE(s.Doc("t", "1"));
    CHECK(s.Doc("t", "2"));
  }
  SECTION("503") {
    s.FailNextRequests(1, 503);
    CHECK(Call(s, "GET", "/").status == 503);
  }
  SECTION("delay") {
    s.SetDelay(std::chrono::milliseconds(200));
    auto start = std::chrono::steady_clock::now();
    Call(s, "GET", "/");
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(200));
  }
}

TEST_CASE("EsTestServer: _count and _delete_by_query see only refreshed documents",
          "[unit][es-server]") {
  // Search-based APIs read what the last refresh made visible (near real-time search);
  // GET by id is real-time.
  EsTestServer s;
  Call(s, "POST", "/_bulk",
       Action("index", "1", 1) +
           R"({"k":"a"})"
           "\n" +
           Action("index", "2", 1) +
           R"({"k":"b"})"
           "\n");
  CHECK(Call(s, "POST", "/t/_count", "{}").body["count"] == 0);
  CHECK(Call(s, "GET", "/t/_doc/1").status == 200);
  CHECK(Call(s, "POST", "/t/_refresh").status == 200);
  CHECK(Call(s, "POST", "/t/_count", "{}").body["count"] == 2);
  CHECK(Call(s, "POST", "/t/_count", R"({"query":{"term":{"k":"a"}}})").body["count"] == 1);

  auto mget = Call(s, "POST", "/t/_mget", R"({"ids":["1","9"]})");
  CHECK(mget.body["docs"][0]["found"] == true);
  CHECK(mget.body["docs"][1]["found"] == false);

  auto d = Call(s, "POST", "/t/_delete_by_query?refresh=true", R"({"query":{"term":{"k":"a"}}})");
  CHECK(d.status == 200);
  CHECK(d.body["deleted"] == 1);
  CHECK(Call(s, "POST", "/t/_count", "{}").body["count"] == 1);

  // A document changed after the refresh is a version conflict: conflicts=proceed skips it.
  Call(s, "POST", "/_bulk",
       Action("index", "2", 5) + R"({"k":"b2"})"
                                 "\n");
  auto c =
      Call(s, "POST", "/t/_delete_by_query?conflicts=proceed", R"({"query":{"match_all":{}}})");
  CHECK(c.body["version_conflicts"] == 1);
  CHECK(c.body["deleted"] == 0);
  auto abort = Call(s, "POST", "/t/_delete_by_query", R"({"query":{"match_all":{}}})");
  CHECK(abort.status == 409);
  CHECK(Call(s, "POST", "/nope/_count", "{}").body["error"]["type"] == "index_not_found_exception");
}

TEST_CASE("EsTestServer: auth and recorded headers", "[unit][es-server]") {
  EsTestServer s;
  s.RequireAuthorization("ApiKey abc");
  auto a = Call(s, "GET", "/");
  CHECK(a.status == 401);
  CHECK(a.body["error"]["type"] == "security_exception");
  httplib::Client c(s.url());
  auto r = c.Get("/", {{"Authorization", "ApiKey abc"}});
  REQUIRE(r);
  CHECK(r->status == 200);
  auto reqs = s.Requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[1].headers["authorization"] == "ApiKey abc");
}

TEST_CASE(
    "EsTestServer: _search sees the last refresh, scroll pages a frozen result "
    "(search-search, scroll-search-results, clear-scroll-api)",
    "[unit][es-server]") {
  EsTestServer s;
  std::string bulk;
  for (int i = 1; i <= 5; ++i)
    bulk += Action("index", std::to_string(i), 100 + i) + "{\"n\":" + std::to_string(i) + "}\n";
  REQUIRE(Call(s, "POST", "/_bulk", bulk, "application/x-ndjson").status == 200);
  // Not yet refreshed: a search sees nothing (a get would).
  CHECK(Call(s, "POST", "/t/_search", R"({"size":10})").body["hits"]["hits"].empty());
  REQUIRE(Call(s, "POST", "/t/_refresh").status == 200);
  auto first =
      Call(s, "POST", "/t/_search?scroll=1m", R"({"size":2,"version":true,"sort":["_doc"]})");
  REQUIRE(first.status == 200);
  CHECK(first.body["hits"]["total"]["value"] == 5);
  REQUIRE(first.body["hits"]["hits"].size() == 2);
  CHECK(first.body["hits"]["hits"][0]["_version"] == 101);
  std::string id = first.body["_scroll_id"];
  // Changes after the search started do not show in its pages.
  REQUIRE(Call(s, "POST", "/_bulk", Action("delete", "5", 200), "application/x-ndjson").status ==
          200);
  REQUIRE(Call(s, "POST", "/t/_refresh").status == 200);
  std::set<std::string> ids;
  for (const auto& h : first.body["hits"]["hits"]) ids.insert(h["_id"].get<std::string>());
  while (true) {
    auto page =
        Call(s, "POST", "/_search/scroll", json{{"scroll", "1m"}, {"scroll_id", id}}.dump());
    REQUIRE(page.status == 200);
    CHECK(page.body["hits"]["total"]["value"] == 5);
    if (page.body["hits"]["hits"].empty()) break;
    for (const auto& h : page.body["hits"]["hits"]) ids.insert(h["_id"].get<std::string>());
  }
  CHECK(ids == std::set<std::string>{"1", "2", "3", "4", "5"});
  auto cleared =
      Call(s, "DELETE", "/_search/scroll", json{{"scroll_id", json::array({id})}}.dump());
  CHECK(cleared.body["num_freed"] == 1);
  CHECK(
      Call(s, "POST", "/_search/scroll", json{{"scroll", "1m"}, {"scroll_id", id}}.dump()).status ==
      404);
  // Without ?scroll= there is no scroll id, and size bounds the hits.
  auto plain = Call(s, "POST", "/t/_search", R"({"size":3})");
  CHECK(plain.body["hits"]["hits"].size() == 3);
  CHECK(!plain.body.contains("_scroll_id"));
}

}  // namespace sluice::test
