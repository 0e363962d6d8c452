// Readiness and wedging rules, metrics folded into reports, the /readyz and /healthz bodies,
// the `sluice status` table, and the config keys behind them.
#include "runtime/report.h"

#include <catch2/catch.hpp>

#include "runtime/builtin_plugins.h"
#include "runtime/config.h"

namespace sluice {
namespace {

PipelineReport Streaming() {
  PipelineReport p;
  p.name = "orders";
  p.source = "shop";
  p.phase = SourcePhase::kStreaming;
  SinkReport s;
  s.name = "search";
  p.sinks.push_back(s);
  return p;
}

bool Mentions(const std::vector<std::string>& reasons, const std::string& text) {
  for (const auto& r : reasons) {
    if (r.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("Status: readiness by phase, sink and lag", "[unit][status]") {
  PipelineReport p = Streaming();
  CHECK(NotReadyReasons(p, false).empty());

  SECTION("starting and reconnecting are not ready, with the source's detail") {
    p.phase = SourcePhase::kStarting;
    CHECK(Mentions(NotReadyReasons(p, false), "source is starting"));
    p.phase = SourcePhase::kReconnecting;
    p.detail = "connection refused";
    CHECK(Mentions(NotReadyReasons(p, false), "reconnecting: connection refused"));
  }
  SECTION("a snapshot is ready only when the policy says so") {
    p.phase = SourcePhase::kSnapshot;
    p.snapshot_rows_done = 10;
    p.snapshot_rows_estimated = 40;
    CHECK(Mentions(NotReadyReasons(p, false), "snapshot in progress (10 of about 40 rows)"));
    p.policy.ready_during_snapshot = true;
    CHECK(NotReadyReasons(p, false).empty());
  }
  SECTION("a sink that is down is named with its error") {
    p.sinks[0].up = false;
    p.sinks[0].last_error = "write failed: 503";
    CHECK(Mentions(NotReadyReasons(p, false), "sink search is down: write failed: 503"));
  }
  SECTION("lag bounds apply only when set") {
    p.lag_seconds = 12;
    p.lag_bytes = 5000;
    CHECK(NotReadyReasons(p, false).empty());
    p.policy.max_lag = std::chrono::seconds(10);
    CHECK(Mentions(NotReadyReasons(p, false), "lag 12 s is over max_lag_seconds 10 s"));
    p.policy.max_lag = std::chrono::seconds(20);
    p.policy.max_lag_bytes = 4096;
    CHECK(Mentions(NotReadyReasons(p, false), "lag 5000 bytes is over max_lag_bytes 4096"));
  }
  SECTION("a failed or stopping pipeline is not ready") {
    CHECK(Mentions(NotReadyReasons(p, true), "shutting down"));
    p.running = false;
    p.failure = "data loss: slot gone";
    CHECK(NotReadyReasons(p, false) == std::vector<std::string>{"failed: data loss: slot gone"});
  }
}

TEST_CASE("Status: a sink thread stuck in one call past the bound is wedged", "[unit][status]") {
  DaemonReport r;
  r.wedged_after_seconds = 300;
  r.pipelines.push_back(Streaming());
  bool ok = false;
  HealthJson(r, &ok);
  CHECK(ok);
  r.pipelines[0].sinks[0].in_call = "flush";
  r.pipelines[0].sinks[0].in_call_seconds = 299;
  HealthJson(r, &ok);
  CHECK(ok);
  r.pipelines[0].sinks[0].in_call_seconds = 301;
  nlohmann::json body = HealthJson(r, &ok);
  CHECK_FALSE(ok);
  CHECK(body["wedged"][0]["pipeline"] == "orders");
  CHECK(body["wedged"][0]["thread"] == "sink search: in flush for 301 s");
}

TEST_CASE("Status: a source that stopped beating past the bound is wedged", "[unit][status]") {
  DaemonReport r;
  r.wedged_after_seconds = 300;
  r.pipelines.push_back(Streaming());
  bool ok = false;
  HealthJson(r, &ok);
  CHECK(ok);  // a source that never beats is never wedged
  r.pipelines[0].source_silent_seconds = 299;
  HealthJson(r, &ok);
  CHECK(ok);
  r.pipelines[0].source_silent_seconds = 302;
  nlohmann::json body = HealthJson(r, &ok);
  CHECK_FALSE(ok);
  CHECK(body["wedged"][0]["thread"].get<std::string>().rfind("source ", 0) == 0);
  CHECK(body["wedged"][0]["thread"].get<std::string>().find("no progress for 302 s") !=
        std::string::npos);
}

TEST_CASE("SourceStatus: no beat means no silence to report, a beat starts the clock",
          "[unit][status]") {
  SourceStatus s;
  CHECK_FALSE(s.SinceBeat().has_value());
  s.Beat();
  REQUIRE(s.SinceBeat().has_value());
  CHECK(*s.SinceBeat() < std::chrono::seconds(5));
}

TEST_CASE("Status: metrics fold into the report of their pipeline and sink", "[unit][status]") {
  MetricsRegistry registry;
  MetricScope scope(&registry, {{"pipeline", "orders"}, {"sink", "search"}});
  scope.GetCounter("sluice_changes_total", "h", {{"op", "insert"}}).Add(7);
  scope.GetCounter("sluice_sink_errors_total", "h", {{"kind", "http"}}).Add(2);
  scope.GetCounter("sluice_sink_dead_letters_total", "h").Add(1);
  scope.GetCounter("sluice_pipeline_retries_total", "h").Add(3);
  MetricScope source(&registry, {{"pipeline", "orders"}});
  source.GetGauge("sluice_source_lag_bytes", "h").Set(4096);
  source.GetGauge("sluice_snapshot_rows_done", "h", {{"table", "a"}}).Set(5);
  source.GetGauge("sluice_snapshot_rows_done", "h", {{"table", "b"}}).Set(6);
  MetricScope other(&registry, {{"pipeline", "other"}, {"sink", "search"}});
  other.GetCounter("sluice_changes_total", "h", {{"op", "insert"}}).Add(100);

  PipelineReport p = Streaming();
  AddMetrics(registry.Collect(), &p);
  CHECK(p.sinks[0].changes["insert"] == 7);
  CHECK(p.sinks[0].errors == 2);
  CHECK(p.sinks[0].dead_letters == 1);
  CHECK(p.sinks[0].retries == 3);
  CHECK(p.lag_bytes == 4096);
  CHECK(p.snapshot_rows_done == 11);
  CHECK_FALSE(p.snapshot_rows_estimated.has_value());
  // Per table too, for the status page's progress bars.
  REQUIRE(p.snapshot_tables.size() == 2);
  CHECK(p.snapshot_tables["a"].rows_done == 5);
  CHECK(p.snapshot_tables["b"].rows_done == 6);
  CHECK_FALSE(p.snapshot_tables["b"].rows_estimated.has_value());
  DaemonReport r;
  r.pipelines.push_back(p);
  nlohmann::json tables = StatusJson(r)["pipelines"][0]["snapshot_tables"];
  REQUIRE(tables.size() == 2);
  CHECK(tables[0]["table"] == "a");
  CHECK(tables[0]["rows_done"] == 5);
  CHECK(tables[0]["rows_estimated"].is_null());
}

TEST_CASE("Status: readyz body names the pipeline and why, the table shows it", "[unit][status]") {
  DaemonReport r;
  r.pipelines.push_back(Streaming());
  r.pipelines.push_back(Streaming());
  r.pipelines[1].name = "cache";
  r.pipelines[1].sinks[0].up = false;
  r.pipelines[1].sinks[0].last_error = "open failed: connection refused";
  bool ok = true;
  nlohmann::json body = ReadyJson(r, &ok);
  CHECK_FALSE(ok);
  CHECK(body["pipelines"][0]["ready"] == true);
  CHECK(body["pipelines"][1]["name"] == "cache");
  CHECK(body["pipelines"][1]["reasons"][0] ==
        "sink search is down: open failed: connection refused");

  std::string table = StatusTable(StatusJson(r));
  CHECK(table.find("PIPELINE") != std::string::npos);
  CHECK(table.find("orders") != std::string::npos);
  CHECK(table.find("not ready:\ncache: sink search is down") != std::string::npos);
}

TEST_CASE("Status: config keys for endpoints, readiness and shutdown", "[unit][status][config]") {
  Registry registry;
  RegisterBuiltinPlugins(registry);
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "TOKEN") return std::string("s3cret");
    return std::nullopt;
  };
  const std::string base =
      "sources: { shop: { type: postgres, dsn: 'dbname=x' } }\n"
      "sinks: { out: { type: stdout } }\n";
  LoadResult ok = LoadConfigString(
      base +
          "http: { listen: '0.0.0.0:9000', token: '${TOKEN}', wedged_after: 2m }\n"
          "shutdown_timeout: 45s\n"
          "readiness: { max_lag_seconds: 30s, max_lag_bytes: 1MB }\n"
          "log: { format: auto, progress_interval: 5s }\n"
          "pipelines:\n  a: shop.public.a | out\n"
          "  b: { from: shop.public.b, to: out, readiness: { ready_during_snapshot: true } }\n",
      "s.yaml", registry, env);
  INFO((ok.errors.empty() ? "" : ok.errors[0].ToString()));
  REQUIRE(ok.ok());
  CHECK(ok.config.http_token == "s3cret");
  CHECK(ok.config.wedged_after == std::chrono::minutes(2));
  CHECK(ok.config.shutdown_timeout == std::chrono::seconds(45));
  CHECK(ok.config.log_format == "auto");
  CHECK(ok.config.log_progress_interval == std::chrono::seconds(5));
  CHECK(ok.config.pipelines[0].readiness.max_lag == std::chrono::seconds(30));
  CHECK_FALSE(ok.config.pipelines[0].readiness.ready_during_snapshot);
  CHECK(ok.config.pipelines[1].readiness.ready_during_snapshot);
  CHECK(ok.config.pipelines[1].readiness.max_lag_bytes == 1048576);

  LoadResult open =
      LoadConfigString(base + "http: { listen: '0.0.0.0:9000' }\n" +
                           "shutdown_timeout: 0s\npipelines: { a: shop.public.a | out }\n",
                       "s.yaml", registry, env);
  REQUIRE(open.errors.size() == 2);
  CHECK(open.errors[0].ToString().find("s.yaml:3:") == 0);
  CHECK(open.errors[0].message.find("not a loopback address") != std::string::npos);
  CHECK(open.errors[1].message.find("'shutdown_timeout' expects a duration greater than 0") !=
        std::string::npos);
}

}  // namespace sluice
