#include "runtime/status_history.h"

#include <catch2/catch.hpp>

namespace sluice {
namespace {

// A report of pipeline `p` with sinks a (applied `a` changes, up) and b (applied `b`, down).
DaemonReport At(double lag, double a, double b) {
  DaemonReport r;
  PipelineReport p;
  p.name = "p";
  p.lag_seconds = lag;
  p.lag_bytes = 100;
  SinkReport sa, sb;
  sa.name = "a";
  sa.changes["insert"] = a;
  sb.name = "b";
  sb.up = false;
  sb.changes["insert"] = b / 2;
  sb.changes["update"] = b / 2;
  p.sinks = {sa, sb};
  r.pipelines.push_back(p);
  return r;
}

}  // namespace

TEST_CASE("StatusHistory: throughput per sink between samples, lag, up", "[unit][history]") {
  StatusHistory h(450, std::chrono::seconds(2));
  h.Record(10'000, At(0.5, 0, 0));
  h.Record(11'000, At(9, 999, 999));  // under the interval: not sampled
  h.Record(12'000, At(1.5, 200, 40));
  h.Record(16'000, At(2.5, 1000, 40));
  nlohmann::json j = h.Json();
  CHECK(j["interval_seconds"] == 2.0);
  CHECK(j["capacity"] == 450);
  REQUIRE(j["pipelines"].size() == 1);
  const nlohmann::json& p = j["pipelines"][0];
  CHECK(p["name"] == "p");
  CHECK(p["t"] == nlohmann::json({10'000, 12'000, 16'000}));
  CHECK(p["lag_seconds"] == nlohmann::json({0.5, 1.5, 2.5}));
  CHECK(p["lag_bytes"][2] == 100.0);
  CHECK(p["snapshot_rows_done"][0].is_null());
  REQUIRE(p["sinks"].size() == 2);
  CHECK(p["sinks"][0]["name"] == "a");
  // No rate for the first sample; then (200 - 0) / 2 s and (1000 - 200) / 4 s.
  CHECK(p["sinks"][0]["changes_per_second"] == nlohmann::json({nullptr, 100.0, 200.0}));
  CHECK(p["sinks"][1]["changes_per_second"] == nlohmann::json({nullptr, 20.0, 0.0}));
  CHECK(p["sinks"][1]["up"] == nlohmann::json({false, false, false}));
  CHECK(p["sinks"][0]["up"][0] == true);

  nlohmann::json since = h.Json(12'000);  // what the page asks for after its first look
  CHECK(since["pipelines"][0]["t"] == nlohmann::json({16'000}));
  CHECK(since["pipelines"][0]["sinks"][0]["changes_per_second"] == nlohmann::json({200.0}));
}

TEST_CASE("StatusHistory: the ring keeps its capacity, forgets pipelines that are gone",
          "[unit][history]") {
  StatusHistory h(3, std::chrono::seconds(1));
  for (int i = 0; i < 10; ++i) h.Record(1000 * (i + 1), At(i, 10.0 * i, 0));
  nlohmann::json p = h.Json()["pipelines"][0];
  CHECK(p["t"] == nlohmann::json({8000, 9000, 10000}));
  CHECK(p["sinks"][0]["changes_per_second"] == nlohmann::json({10.0, 10.0, 10.0}));
  // A counter that went back (the pipeline restarted) gives no rate, not a negative one.
  h.Record(11'000, At(0, 5, 0));
  CHECK(h.Json()["pipelines"][0]["sinks"][0]["changes_per_second"][2].is_null());
  DaemonReport none;
  h.Record(12'000, none);
  CHECK(h.Json()["pipelines"].empty());
}

}  // namespace sluice
