#include "core/metrics.h"

#include <catch2/catch.hpp>
#include <thread>

namespace sluice {
namespace {

TEST_CASE("metrics: counters and gauges render in Prometheus text format") {
  MetricsRegistry reg;
  reg.GetCounter("sluice_changes_total", "Changes applied.", {{"pipeline", "p"}, {"op", "insert"}})
      .Add(3);
  reg.GetGauge("sluice_lag_bytes", "Slot lag.", {{"pipeline", "p\"q"}}).Set(1.5);
  std::string text = reg.RenderText();
  CHECK(text ==
        "# HELP sluice_changes_total Changes applied.\n"
        "# TYPE sluice_changes_total counter\n"
        "sluice_changes_total{pipeline=\"p\",op=\"insert\"} 3\n"
        "# HELP sluice_lag_bytes Slot lag.\n"
        "# TYPE sluice_lag_bytes gauge\n"
        "sluice_lag_bytes{pipeline=\"p\\\"q\"} 1.5\n");
}

TEST_CASE("metrics: the same name and labels give the same series") {
  MetricsRegistry reg;
  Counter& a = reg.GetCounter("c_total", "help", {{"k", "v"}});
  Counter& b = reg.GetCounter("c_total", "other help", {{"k", "v"}});
  Counter& c = reg.GetCounter("c_total", "help", {{"k", "w"}});
  CHECK(&a == &b);
  CHECK(&a != &c);
  a.Add();
  b.Add(2);
  CHECK(a.Value() == 3);
  CHECK(c.Value() == 0);
}

TEST_CASE("metrics: histogram buckets are cumulative with sum and count") {
  MetricsRegistry reg;
  Histogram& h = reg.GetHistogram("lat_seconds", "Latency.", {}, {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.1);  // an observation equal to a bound falls in that bucket (le)
  h.Observe(0.5);
  h.Observe(5);
  CHECK(h.CumulativeCounts() == std::vector<uint64_t>{2, 3, 4});
  std::string text = reg.RenderText();
  CHECK(text.find("lat_seconds_bucket{le=\"0.10000000000000001\"} 2\n") != std::string::npos);
  CHECK(text.find("lat_seconds_bucket{le=\"1\"} 3\n") != std::string::npos);
  CHECK(text.find("lat_seconds_bucket{le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(text.find("lat_seconds_count 4\n") != std::string::npos);
  CHECK(text.find("lat_seconds_sum 5.6500000000000004\n") != std::string::npos);
}

TEST_CASE("metrics: a histogram takes several observations of one value at once") {
  MetricsRegistry reg;
  Histogram& h = reg.GetHistogram("lat_seconds", "Latency.", {}, {0.1, 1});
  h.Observe(0.5, 3);
  h.Observe(0.05, 0);  // nothing
  h.Observe(0.05);
  CHECK(h.CumulativeCounts() == std::vector<uint64_t>{1, 4, 4});
  CHECK(h.Count() == 4);
  CHECK(h.Sum() == Approx(1.55));
}

TEST_CASE("metrics: a scope adds its labels and counts across threads") {
  MetricsRegistry reg;
  MetricScope scope(&reg, {{"pipeline", "p"}});
  MetricScope sink = scope.With({{"sink", "s"}});
  Counter& c = sink.GetCounter("n_total", "n", {{"op", "delete"}});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 1000; ++i) c.Add();
    });
  }
  for (auto& t : threads) t.join();
  std::vector<MetricSample> samples = reg.Collect();
  REQUIRE(samples.size() == 1);
  CHECK(samples[0].labels == MetricLabels{{"pipeline", "p"}, {"sink", "s"}, {"op", "delete"}});
  CHECK(samples[0].value == 4000);
}

TEST_CASE("metrics: default scopes share one registry that outlives them") {
  Counter* counter = nullptr;
  {
    MetricScope scope;
    counter = &scope.GetCounter("metrics_test_default_total", "x");
  }
  counter->Add();  // still valid after the scope is gone
  MetricScope other;
  CHECK(&other.GetCounter("metrics_test_default_total", "x") == counter);
  CHECK(counter->Value() >= 1);
}

}  // namespace
}  // namespace sluice
