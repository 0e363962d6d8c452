// The operations endpoints of a running sluice: /readyz, /healthz, /metrics (checked by
// promtool, counters against what the sink applied), /status and `sluice status`; a sink
// that is down, lag over the bound, a wedged sink call, and a snapshot in progress.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "http_support.h"
#include "support/es_target.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kPassword = "pw-never-shown-7f3a";

bool Ready(int port) { return HttpGet(port, "/readyz").status == 200; }

// Changes per op in the stdout sink's output.
std::map<std::string, double> OpsInOutput(const TempDir& dir) {
  std::map<std::string, double> ops;
  for (const auto& c : ApplyJsonLines(dir.File("out.jsonl")).changes) {
    ops[c["op"].get<std::string>()] += 1;
  }
  return ops;
}

std::string Series(const std::string& name, const std::string& labels) {
  return name + "{" + labels + "}";
}

}  // namespace

TEST_CASE(
    "HttpEndpoints: streaming pipeline is ready, /metrics passes promtool and counts what was "
    "applied, no password anywhere",
    "[integration][http]") {
  TestDb db("it_http_streaming");
  CreateItems(db, 300);
  TempDir dir("http-streaming");
  WriteFile(dir.File("sluice.yaml"), StdoutConfig(dir, db.Dsn() + " password=" + kPassword,
                                                  "  items: src.public.items | out\n"));
  auto sluice = StartSluice(dir);
  int port = HttpPort(dir);
  REQUIRE(WaitFor([&] { return Ready(port); }, seconds(60)));
  CHECK(HttpGet(port, "/healthz").status == 200);

  db.Exec("UPDATE items SET qty = qty + 1 WHERE id <= 40");
  db.Exec("DELETE FROM items WHERE id > 290");
  db.Exec("INSERT INTO items SELECT g, 'n', 1, 1 FROM generate_series(1001, 1025) g");
  const std::string sink = "pipeline=\"items\",sink=\"out\"";
  std::string scrape;
  // 300 reads + 40 updates + 10 deletes + 25 inserts, all flushed.
  bool counted = WaitFor(
      [&] {
        scrape = HttpGet(port, "/metrics").body;
        return MetricValue(scrape, Series("sluice_changes_total", sink + ",op=\"insert\"")) == 25.0;
      },
      seconds(60));
  INFO(scrape);
  REQUIRE(counted);
  std::string promtool;
  CHECK(PromtoolCheck(scrape, &promtool) == 0);

  auto ops = OpsInOutput(dir);
  for (const char* op : {"read", "insert", "update", "delete"}) {
    CHECK(MetricValue(scrape, Series("sluice_changes_total", sink + ",op=\"" + op + "\"")) ==
          ops[op]);
  }
  CHECK(ops["read"] == 300);
  CHECK(ops["update"] == 40);
  CHECK(ops["delete"] == 10);
  CHECK(MetricValue(scrape, Series("sluice_sink_up", sink)) == 1.0);
  CHECK(MetricValue(scrape, Series("sluice_apply_latency_seconds_count", sink)) == 75.0);
  CHECK(MetricValue(scrape, "process_resident_memory_bytes").value_or(0) > 0);
  CHECK(MetricValue(scrape, "process_open_fds").value_or(0) > 0);
  CHECK(scrape.find("sluice_build_info{version=") != std::string::npos);

  HttpAnswer status = HttpGet(port, "/status");
  REQUIRE(status.status == 200);
  json st = json::parse(status.body);
  REQUIRE(st["pipelines"].size() == 1);
  CHECK(st["pipelines"][0]["phase"] == "streaming");
  CHECK(st["pipelines"][0]["ready"] == true);
  CHECK(st["pipelines"][0]["sinks"][0]["name"] == "out");
  CHECK(st["pipelines"][0]["sinks"][0]["changes"]["update"] == 40);

  int rc = RunSluice({"status", "--address", "127.0.0.1:" + std::to_string(port)},
                     dir.File("status.out"), dir.File("status.err"), seconds(30));
  CHECK(rc == 0);
  std::string table = ReadFile(dir.File("status.out"));
  CHECK(table.find("PIPELINE") != std::string::npos);
  CHECK(table.find("items") != std::string::npos);
  CHECK(table.find("streaming") != std::string::npos);

  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
  std::string log = ReadFile(dir.File("stderr.log"));
  CHECK(log.find("pipeline items: streaming") != std::string::npos);
  for (const std::string& text : {scrape, status.body, table, log}) {
    CHECK(text.find(kPassword) == std::string::npos);
  }
}

TEST_CASE("HttpEndpoints: readyz answers 503 naming a sink that is down, healthz stays 200",
          "[integration][http]") {
  TestDb db("it_http_sink_down");
  CreateItems(db, 10);
  TempDir dir("http-sink-down");
  int dead = ClosedPort();
  WriteFile(dir.File("sluice.yaml"),
            "shutdown_timeout: 2s\n" +
                SluiceConfig(dir, db.Dsn(),
                             "  cache:\n    type: redis\n    url: redis://:" + kPassword +
                                 "@127.0.0.1:" + std::to_string(dead) + "/0\n",
                             "  items: src.public.items | cache\n"));
  auto sluice = StartSluice(dir);
  int port = HttpPort(dir);
  HttpAnswer ready;
  REQUIRE(WaitFor(
      [&] {
        ready = HttpGet(port, "/readyz");
        return ready.body.find("sink cache is down") != std::string::npos;
      },
      seconds(30)));
  INFO(ready.body);
  CHECK(ready.status == 503);
  json body = json::parse(ready.body);
  CHECK(body["ready"] == false);
  CHECK(body["pipelines"][0]["name"] == "items");
  CHECK(HttpGet(port, "/healthz").status == 200);
  std::string scrape = HttpGet(port, "/metrics").body;
  CHECK(MetricValue(scrape, "sluice_sink_up{pipeline=\"items\",sink=\"cache\"}") == 0.0);
  CHECK(MetricValue(scrape, "sluice_pipeline_retries_total{pipeline=\"items\",sink=\"cache\"}")
            .value_or(0) >= 1);
  std::string status = HttpGet(port, "/status").body;
  CHECK(status.find("\"up\": false") != std::string::npos);
  // A sink that is down cannot be drained: the stop gives up after shutdown_timeout.
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 3);
  std::string log = ReadFile(dir.File("stderr.log"));
  CHECK(log.find("pipeline items sink cache: down") != std::string::npos);
  for (const std::string& text : {ready.body, scrape, status, log}) {
    CHECK(text.find(kPassword) == std::string::npos);
  }
}

TEST_CASE(
    "HttpEndpoints: snapshot, lag over max_lag_seconds and a wedged sink call show in readyz and "
    "healthz",
    "[integration][http]") {
  TestDb db("it_http_lag");
  CreateItems(db, 12000);
  EsTarget es("http-lag");
  REQUIRE(es.server() != nullptr);  // fault injection needs the in-process server
  TempDir dir("http-lag");
  // Slow answers from the start: the snapshot cannot finish while they last.
  es.server()->SetDelay(std::chrono::milliseconds(1500));
  WriteFile(dir.File("sluice.yaml"),
            "readiness:\n  max_lag_seconds: 1s\nlimits:\n  batch_changes: 500\n" +
                WithHttp(SluiceConfig(
                             dir, db.Dsn(),
                             "  search:\n    type: elasticsearch\n    url: " + es.url() +
                                 "\n    index: " + es.Index("items") + "\n    bulk_actions: 500\n",
                             "  items: src.public.items | search\n", "    toast: lookup\n"),
                         "127.0.0.1:0", "  wedged_after: 1s\n"));
  auto sluice = StartSluice(dir);
  int port = HttpPort(dir);

  HttpAnswer ready;
  CHECK(WaitFor(
      [&] {
        ready = HttpGet(port, "/readyz");
        return ready.body.find("snapshot in progress") != std::string::npos;
      },
      seconds(30)));
  CHECK(ready.status == 503);
  HttpAnswer health;
  CHECK(WaitFor(
      [&] {
        health = HttpGet(port, "/healthz");
        return health.status == 503;
      },
      seconds(30)));
  INFO(health.body);
  CHECK(health.body.find("sink search: in ") != std::string::npos);

  // Let the snapshot through, then slow the sink again under new writes: lag builds up.
  es.server()->SetDelay(std::chrono::milliseconds(0));
  REQUIRE(WaitFor([&] { return Ready(port); }, seconds(120)));
  CHECK(HttpGet(port, "/healthz").status == 200);
  es.server()->SetDelay(std::chrono::milliseconds(2500));
  db.Exec("UPDATE items SET qty = qty + 1 WHERE id <= 10");
  CHECK(WaitFor(
      [&] {
        ready = HttpGet(port, "/readyz");
        return ready.body.find("is over max_lag_seconds") != std::string::npos;
      },
      seconds(30)));
  CHECK(ready.status == 503);
  CHECK(MetricValue(HttpGet(port, "/metrics").body, "sluice_lag_seconds{pipeline=\"items\"}")
            .value_or(0) > 1.0);
  es.server()->SetDelay(std::chrono::milliseconds(0));
  CHECK(WaitFor([&] { return Ready(port); }, seconds(60)));
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("HttpEndpoints: a non-loopback listener needs the bearer token for /status and /metrics",
          "[integration][http]") {
  TestDb db("it_http_token");
  CreateItems(db, 5);
  TempDir dir("http-token");
  const std::string token = "tok-" + std::to_string(getpid()) + "-c0ffee";
  WriteFile(dir.File("sluice.yaml"),
            WithHttp(StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"), "0.0.0.0:0",
                     "  token: \"${SLUICE_TEST_HTTP_TOKEN}\"\n"));
  SluiceProcess sluice({"run", "-c", dir.File("sluice.yaml")}, dir.File("stdout.log"),
                       dir.File("stderr.log"), {{"SLUICE_TEST_HTTP_TOKEN", token}});
  int port = HttpPort(dir);
  REQUIRE(WaitFor([&] { return Ready(port); }, seconds(60)));
  CHECK(HttpGet(port, "/healthz").status == 200);
  CHECK(HttpGet(port, "/status").status == 401);
  CHECK(HttpGet(port, "/metrics").status == 401);
  CHECK(HttpGet(port, "/status", "wrong-" + token).status == 401);
  HttpAnswer status = HttpGet(port, "/status", token);
  CHECK(status.status == 200);
  CHECK(status.body.find(token) == std::string::npos);
  CHECK(HttpGet(port, "/metrics", token).status == 200);
  sluice.Signal(SIGTERM);
  CHECK(sluice.Wait(seconds(30)) == 0);
  CHECK(ReadFile(dir.File("stderr.log")).find(token) == std::string::npos);

  // Without a token such a listener is a config error.
  WriteFile(dir.File("open.yaml"),
            WithHttp(StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"),
                     "0.0.0.0:8080", ""));
  CHECK(RunSluice({"check", "-c", dir.File("open.yaml")}, dir.File("check.out"),
                  dir.File("check.err"), seconds(30)) == 2);
  CHECK(ReadFile(dir.File("check.err")).find("is not a loopback address") != std::string::npos);
}

}  // namespace sluice::test
