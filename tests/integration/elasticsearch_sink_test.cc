// The elasticsearch sink driven directly (no PostgreSQL): replays, collapse, retries, dead
// letters, index set-up, truncate, auth, TLS and gzip wiring. Runs against the in-process
// test server, or against SLUICE_TEST_ES_URL when set (server-only parts then WARN and skip).
#include <catch2/catch.hpp>
#include <mutex>

#include "core/dead_letters.h"
#include "sinks/elasticsearch/es_sink.h"
#include "support/changes.h"
#include "support/es_target.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

using es::EsSink;
using nlohmann::json;
using std::chrono::seconds;

struct CapturedDeadLetters : DeadLetters {
  Status Write(const std::string& pipeline, const std::string& sink, const Change& change,
               const std::string& reason) override {
    std::lock_guard lock(mu);
    entries.push_back({change, pipeline + "/" + sink + ": " + reason});
    return Status::Ok();
  }
  std::mutex mu;
  std::vector<std::pair<Change, std::string>> entries;
};

std::shared_ptr<const TableId> Items() {
  static auto t = MakeTable("shop", "public", "items");
  return t;
}

Change Put(int id, const std::string& name, uint64_t lsn, uint64_t seq = 1, Op op = Op::kInsert) {
  return KeyedChange(
      op, Items(), id, lsn, seq,
      Row{{"id", IntValue(id)}, {"name", StrValue(name)}, {"qty", IntValue(id % 10)}});
}

Change Del(int id, uint64_t lsn, uint64_t seq = 1) {
  return KeyedChange(Op::kDelete, Items(), id, lsn, seq);
}

struct Harness {
  explicit Harness(EsTarget& target, const std::string& index,
                   std::map<std::string, std::string> options = {}) {
    options.emplace("url", target.url());
    options["index"] = index;
    SinkContext ctx;
    ctx.pipeline = "p";
    ctx.sink = "search";
    ctx.target = index;
    ctx.options = WithDefaults(es::EsOptionSpecs(), options);
    ctx.dead_letters = &dead;
    ctx.metrics = MetricScope(&metrics, {{"sink", "search"}});
    auto o = es::ParseEsOptions(ctx.options, ctx.target);
    REQUIRE(o.ok());
    sink = std::make_unique<EsSink>(ctx, o.value());
  }
  // Flushes until the cluster took everything (the pipeline retries Unavailable the same way).
  void FlushUntilDone() {
    Status last;
    bool ok = WaitFor([&] { return (last = sink->Flush()).ok(); }, seconds(30));
    INFO(last.ToString());
    REQUIRE(ok);
  }
  // The value of the series `name` (with `result` when given) in this sink's metrics.
  double Metric(const std::string& name, const std::string& result = "") const {
    MetricLabels labels{{"sink", "search"}};
    if (!result.empty()) labels.emplace_back("result", result);
    for (const MetricSample& s : metrics.Collect()) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return -1;
  }
  MetricsRegistry metrics;  // declared before the sink, which keeps references into it
  CapturedDeadLetters dead;
  std::unique_ptr<EsSink> sink;
};

std::map<std::string, json> Snapshot(EsTarget& t, const std::string& index, int max_id) {
  std::vector<std::string> ids;
  for (int i = 1; i <= max_id; ++i) ids.push_back(std::to_string(i));
  return t.MGet(index, ids);
}

}  // namespace

TEST_CASE("ElasticsearchSink: replay of older and identical batches changes nothing",
          "[integration][elasticsearch]") {
  EsTarget t("replay");
  std::string index = t.Index("items");
  Harness h(t, index);
  REQUIRE(h.sink->Open().ok());
  std::vector<Change> first, second;
  for (int i = 1; i <= 50; ++i) first.push_back(Put(i, "v1", 1000));
  for (int i = 1; i <= 25; ++i)
    second.push_back(Put(i, "v2", 2000, static_cast<uint64_t>(i), Op::kUpdate));
  for (int i = 26; i <= 30; ++i) second.push_back(Del(i, 2000, static_cast<uint64_t>(i)));
  Batch b1 = MakeBatch(first), b2 = MakeBatch(second);
  REQUIRE(h.sink->Write(b1).ok());
  REQUIRE(h.sink->Write(b2).ok());
  h.FlushUntilDone();
  auto before = Snapshot(t, index, 50);
  CHECK(before.size() == 45);
  CHECK(before["1"]["_source"]["name"] == "v2");
  CHECK(before["1"]["_version"] == 2000);
  CHECK(before["40"]["_source"]["name"] == "v1");
  CHECK(t.Count(index) == 45);

  // A crash replays a suffix: the older batch alone, then both again, in separate flushes.
  REQUIRE(h.sink->Write(b1).ok());
  h.FlushUntilDone();
  CHECK(h.sink->stats().already_applied >= 25);
  // The metrics count the same answers.
  CHECK(h.Metric("sluice_sink_items_total", "already_applied") ==
        static_cast<double>(h.sink->stats().already_applied));
  CHECK(h.Metric("sluice_sink_items_total", "applied") ==
        static_cast<double>(h.sink->stats().applied));
  CHECK(h.Metric("sluice_sink_requests_total") ==
        static_cast<double>(h.sink->stats().bulk_requests));
  REQUIRE(h.sink->Write(b1).ok());
  REQUIRE(h.sink->Write(b2).ok());
  h.FlushUntilDone();
  CHECK(Snapshot(t, index, 50) == before);
  CHECK(t.Count(index) == 45);
  CHECK(h.dead.entries.empty());
}

TEST_CASE("ElasticsearchSink: changes of one key in one transaction collapse to the last",
          "[integration][elasticsearch]") {
  EsTarget t("collapse");
  std::string index = t.Index("items");
  Harness h(t, index);
  REQUIRE(h.sink->Open().ok());
  Batch b = MakeBatch({Put(1, "a", 500, 1), Put(1, "b", 500, 2, Op::kUpdate), Put(2, "x", 500, 3),
                       Put(1, "c", 500, 4, Op::kUpdate), Del(2, 500, 5)});
  if (t.server()) t.server()->FailNextItems(1, 429);  // the first attempt loses one item
  REQUIRE(h.sink->Write(b).ok());
  CHECK(h.sink->pending() == 2);
  h.FlushUntilDone();
  uint64_t version = 0;
  auto doc = t.Get(index, "1", &version);
  REQUIRE(doc);
  CHECK((*doc)["name"] == "c");
  CHECK(version == 500);
  CHECK_FALSE(t.Get(index, "2"));
  CHECK(h.sink->stats().collapsed == 3);
}

TEST_CASE("ElasticsearchSink: a 429 storm retries only the failed items and ends equal",
          "[integration][elasticsearch]") {
  EsTarget t("storm");
  if (!t.server()) {
    WARN("fault injection needs the in-process test server; skipped against a real cluster");
    return;
  }
  std::string index = t.Index("items");
  Harness h(t, index, {{"bulk_actions", "40"}});
  REQUIRE(h.sink->Open().ok());
  std::vector<Change> changes;
  for (int i = 1; i <= 200; ++i) changes.push_back(Put(i, "n" + std::to_string(i), 100 + i));

  uint64_t items_before = t.server()->bulk_items();
  t.server()->FailNextItems(30, 429);
  // Write sends the first full request and builds the second while it is in flight. The
  // first answer has 30 items to send again, so the second is not sent: the sink asks for a
  // flush, which sends the 30 first (the pipeline backs off between failed flushes).
  REQUIRE(h.sink->Write(MakeBatch(changes)).ok());
  CHECK(h.sink->WantsFlush());
  CHECK(h.sink->pending() == 190);
  CHECK(t.server()->bulk_items() - items_before == 40);
  CHECK(h.sink->stats().retried == 30);
  // Whole requests failing (429, then 503) keep everything as it is.
  t.server()->FailNextRequests(3, 429);
  CHECK(h.sink->Flush().code() == StatusCode::kUnavailable);
  CHECK(h.sink->pending() == 190);
  t.server()->FailNextRequests(1, 503);
  CHECK(h.sink->Flush().code() == StatusCode::kUnavailable);
  h.FlushUntilDone();
  CHECK(h.sink->pending() == 0);
  // Items answered: 200 the first time, then the 30 failed ones again.
  CHECK(t.server()->bulk_items() - items_before == 230);
  auto docs = t.server()->Docs(index);
  REQUIRE(docs.size() == 200);
  for (int i = 1; i <= 200; ++i) {
    CHECK(json::parse(docs[std::to_string(i)].source)["name"] == "n" + std::to_string(i));
    CHECK(docs[std::to_string(i)].version == static_cast<uint64_t>(100 + i));
  }
}

TEST_CASE("ElasticsearchSink: items sent again collapse with newer changes of their document",
          "[integration][elasticsearch]") {
  EsTarget t("inflight");
  if (!t.server()) {
    WARN("fault injection needs the in-process test server; skipped against a real cluster");
    return;
  }
  std::string index = t.Index("items");
  Harness h(t, index, {{"bulk_actions", "20"}});
  REQUIRE(h.sink->Open().ok());
  // One transaction (one version) writes every document twice, in two batches: the first
  // batch is in flight when the second comes, and all of its items come back with 429.
  std::vector<Change> first, second;
  for (int i = 1; i <= 20; ++i) {
    first.push_back(Put(i, "old", 700, static_cast<uint64_t>(i)));
    second.push_back(Put(i, "new", 700, static_cast<uint64_t>(100 + i), Op::kUpdate));
  }
  t.server()->FailNextItems(20, 429);
  REQUIRE(h.sink->Write(MakeBatch(first)).ok());
  REQUIRE(h.sink->Write(MakeBatch(second)).ok());
  // Sent as two, a retry of "old" could land after "new" with the same version and win.
  CHECK(h.sink->pending() == 20);
  CHECK(h.sink->stats().collapsed == 20);
  h.FlushUntilDone();
  auto docs = t.server()->Docs(index);
  REQUIRE(docs.size() == 20);
  for (auto& [id, doc] : docs) CHECK(json::parse(doc.source)["name"] == "new");
}

TEST_CASE("ElasticsearchSink: full requests go out from Write, the rest on Flush",
          "[integration][elasticsearch]") {
  EsTarget t("overlap");
  std::string index = t.Index("items");
  Harness h(t, index, {{"bulk_actions", "10"}});
  REQUIRE(h.sink->Open().ok());
  std::vector<Change> changes;
  for (int i = 1; i <= 95; ++i) changes.push_back(Put(i, "n", 900 + i));
  REQUIRE(h.sink->Write(MakeBatch(changes)).ok());
  // Nine full requests were sent (the ninth may still be in flight); five items wait, and
  // after eight requests the sink asks for a flush so that their durability is reported.
  CHECK(h.sink->pending() == 5);
  CHECK(h.sink->stats().bulk_requests == 9);
  CHECK(h.sink->WantsFlush());
  REQUIRE(h.sink->Flush().ok());
  CHECK(h.sink->stats().bulk_requests == 10);
  CHECK(h.sink->stats().applied == 95);
  CHECK_FALSE(h.sink->WantsFlush());
  CHECK(t.Count(index) == 95);
}

TEST_CASE("ElasticsearchSink: one bad document is dead-lettered, the others land",
          "[integration][elasticsearch]") {
  EsTarget t("deadletter");
  std::string index = t.Index("items");
  Harness h(t, index, {{"mappings", R"({"properties":{"qty":{"type":"integer"}}})"}});
  REQUIRE(h.sink->Open().ok());
  std::vector<Change> changes;
  for (int i = 1; i <= 10; ++i) changes.push_back(Put(i, "ok", 700));
  FindField(*changes[4].after, "qty")->value = Value::Of(ValueKind::kString, "not a number");
  REQUIRE(h.sink->Write(MakeBatch(changes)).ok());
  h.FlushUntilDone();
  CHECK(t.Count(index) == 9);
  CHECK_FALSE(t.Get(index, "5"));
  REQUIRE(h.dead.entries.size() == 1);
  CHECK(h.dead.entries[0].first.key[0].value.text == "5");
  CHECK(h.dead.entries[0].second.find("HTTP 400") != std::string::npos);
  CHECK(h.dead.entries[0].second.find("qty") != std::string::npos);
  CHECK(h.sink->stats().dead_lettered == 1);
  CHECK(h.Metric("sluice_sink_dead_letters_total") == 1);
}

TEST_CASE("ElasticsearchSink: dead letters can go to an index, with their reason and change",
          "[integration][elasticsearch]") {
  EsTarget t("deadletter-index");
  std::string index = t.Index("items");
  std::string dlq = t.Index("dead");
  Harness h(
      t, index,
      {{"mappings", R"({"properties":{"qty":{"type":"integer"}}})"}, {"dead_letter_index", dlq}});
  REQUIRE(h.sink->Open().ok());
  std::vector<Change> changes;
  for (int i = 1; i <= 4; ++i) changes.push_back(Put(i, "ok", 900));
  FindField(*changes[2].after, "qty")->value = Value::Of(ValueKind::kString, "many");
  REQUIRE(h.sink->Write(MakeBatch(changes)).ok());
  h.FlushUntilDone();
  CHECK(t.Count(index) == 3);
  CHECK(h.dead.entries.empty());  // not the file: the index
  REQUIRE(t.Count(dlq) == 1);
  CHECK(h.Metric("sluice_sink_dead_letters_total") == 1);
}

TEST_CASE("ElasticsearchSink: index creation with a mapping, existing mapping untouched",
          "[integration][elasticsearch]") {
  EsTarget t("mapping");
  std::string index = t.Index("items");
  TempDir dir("es-mapping");
  WriteFile(dir.File("m.json"),
            R"({"properties":{"name":{"type":"keyword"},"qty":{"type":"integer"}}})");
  {
    Harness h(t, index,
              {{"mappings_file", dir.File("m.json")}, {"settings", R"({"number_of_replicas":0})"}});
    REQUIRE(h.sink->Open().ok());
  }
  json m = t.Mapping(index);
  CHECK(m["properties"]["name"]["type"] == "keyword");
  CHECK(m["properties"]["qty"]["type"] == "integer");
  // A second sink with another mapping leaves the existing index alone.
  Harness other(t, index, {{"mappings", R"({"properties":{"name":{"type":"text"}}})"}});
  REQUIRE(other.sink->Open().ok());
  CHECK(t.Mapping(index)["properties"]["name"]["type"] == "keyword");

  SECTION("templated names are created on first use") {
    std::string base = t.Index("tmpl");
    Harness h(t, base + "-{table}", {{"mappings", R"({"properties":{"qty":{"type":"integer"}}})"}});
    REQUIRE(h.sink->Open().ok());
    REQUIRE(h.sink->Write(MakeBatch({Put(1, "a", 10)})).ok());
    h.FlushUntilDone();
    t.Index("tmpl-items");  // so a real cluster deletes it too
    CHECK(t.Mapping(base + "-items")["properties"]["qty"]["type"] == "integer");
    CHECK(t.Get(base + "-items", "1"));
  }
}

TEST_CASE("ElasticsearchSink: truncate deletes the table's documents, later rows stay",
          "[integration][elasticsearch]") {
  EsTarget t("truncate");
  std::string index = t.Index("items");
  Harness h(t, index);
  REQUIRE(h.sink->Open().ok());
  std::vector<Change> changes;
  for (int i = 1; i <= 20; ++i) changes.push_back(Put(i, "old", 100));
  Change trunc;
  trunc.op = Op::kTruncate;
  trunc.table = Items();
  trunc.position = {Lsn(200), 1};
  changes.push_back(trunc);
  changes.push_back(Put(3, "new", 300));
  changes.push_back(Put(21, "new", 300, 2));
  REQUIRE(h.sink->Write(MakeBatch(changes)).ok());
  h.FlushUntilDone();
  CHECK(t.Count(index) == 2);
  CHECK((*t.Get(index, "3"))["name"] == "new");
  CHECK(h.sink->stats().truncates == 1);
}

TEST_CASE("ElasticsearchSink: auth header, gzip, version check and TLS wiring",
          "[integration][elasticsearch]") {
  EsTarget t("wiring");
  if (!t.server()) {
    WARN("request records need the in-process test server; skipped against a real cluster");
    return;
  }
  EsTestServer& s = *t.server();
  std::string index = t.Index("items");
  SECTION("api key") {
    s.RequireAuthorization("ApiKey c2VjcmV0");
    Harness h(t, index, {{"api_key", "c2VjcmV0"}});
    REQUIRE(h.sink->Open().ok());
    REQUIRE(h.sink->Write(MakeBatch({Put(1, "a", 10)})).ok());
    h.FlushUntilDone();
    for (const auto& r : s.Requests()) CHECK(r.header("authorization") == "ApiKey c2VjcmV0");
  }
  SECTION("basic auth, and 401 is fatal with a clear message") {
    s.RequireAuthorization("Basic dTpw");  // base64("u:p")
    Harness good(t, index, {{"username", "u"}, {"password", "p"}});
    CHECK(good.sink->Open().ok());
    Harness bad(t, index, {{"username", "u"}, {"password", "wrong"}});
    Status st = bad.sink->Open();
    CHECK(st.code() == StatusCode::kInvalidArgument);
    CHECK(st.message().find("HTTP 401") != std::string::npos);
    CHECK(st.message().find("wrong") == std::string::npos);  // the secret is not printed
  }
  SECTION("gzip bodies") {
    Harness h(t, index, {{"gzip", "true"}});
    REQUIRE(h.sink->Open().ok());
    REQUIRE(h.sink->Write(MakeBatch({Put(1, "zipped", 10)})).ok());
    h.FlushUntilDone();
    CHECK((*t.Get(index, "1"))["name"] == "zipped");
    bool saw = false;
    for (const auto& r : s.Requests()) saw = saw || r.header("content-encoding") == "gzip";
    CHECK(saw);
  }
  SECTION("versions") {
    Harness h(t, index);
    s.SetVersion("elasticsearch", "6.8.0");
    CHECK(h.sink->Check().code() == StatusCode::kInvalidArgument);
    s.SetVersion("opensearch", "2.11.0");
    CHECK(h.sink->Check().ok());
    s.SetVersion("elasticsearch", "7.17.0");
    CHECK(h.sink->Check().ok());
  }
  SECTION("TLS: the CA file reaches curl") {
    std::string https = "https" + t.url().substr(4);
    Harness h(t, index, {{"url", https}, {"ca_file", "/nonexistent/ca.pem"}});
    Status st = h.sink->Open();
    CHECK(st.code() == StatusCode::kInvalidArgument);
    CHECK(st.message().find("/nonexistent/ca.pem") != std::string::npos);
    // Verification off: the same server fails the handshake instead (it speaks plain HTTP).
    Harness off(t, index, {{"url", https}, {"tls_verify", "false"}});
    CHECK(off.sink->Open().code() == StatusCode::kUnavailable);
  }
  SECTION("a slow cluster still converges") {
    s.SetDelay(std::chrono::milliseconds(300));
    Harness h(t, index);
    REQUIRE(h.sink->Open().ok());
    REQUIRE(h.sink->Write(MakeBatch({Put(1, "slow", 10)})).ok());
    h.FlushUntilDone();
    CHECK(s.Doc(index, "1"));
  }
}

}  // namespace sluice::test
