// Metrics: labelled counters, gauges and histograms, kept in a MetricsRegistry that renders
// them in the Prometheus text exposition format and lists them for /status.
// Updating a metric is one relaxed atomic operation; looking one up takes a lock, so
// components look their metrics up once (at construction) and keep the references.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

// Label name/value pairs, in the order they are rendered.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Monotonic count of events. Thread-safe.
class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. Thread-safe.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Distribution of observed values over fixed, increasing upper bounds. Thread-safe.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v) { Observe(v, 1); }
  // `count` observations of the same value at once.
  void Observe(double v, uint64_t count);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound (Prometheus `le` buckets), then the +Inf count last.
  std::vector<uint64_t> CumulativeCounts() const;
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, then +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 0.5 ms to 60 s.
std::vector<double> LatencyBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// One labelled series, as listed by MetricsRegistry::Collect().
struct MetricSample {
  std::string name;
  MetricType type = MetricType::kCounter;
  MetricLabels labels;
  double value = 0;  // counter or gauge value; a histogram's count
  double sum = 0;    // histograms only
};

// Owns every metric of a process (the daemon owns one; tests make their own). Metrics live
// as long as the registry; the references Get*() returns stay valid until then.
// Thread-safe.
class MetricsRegistry {
 public:
  // The series `name` with `labels`, created on first use. `help` is kept from the first
  // call. Asking for an existing name with another type is a programming error (aborts).
  Counter& GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help,
                  const MetricLabels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const MetricLabels& labels = {},
                          const std::vector<double>& bounds = LatencyBuckets());

  // Prometheus text exposition format, version 0.0.4: families sorted by name, each with
  // its HELP and TYPE lines.
  std::string RenderText() const;
  // Every series, sorted by name then labels.
  std::vector<MetricSample> Collect() const;

 private:
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string help;
    MetricType type;
    std::map<MetricLabels, Series> series;
  };
  Series& Find(const std::string& name, const std::string& help, MetricType type,
               const MetricLabels& labels);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// A registry plus labels every metric gets (pipeline, sink, ...): what a source or sink
// receives in its context. Cheap to copy. A default-constructed scope points at one
// process-wide registry that nothing renders, so components built without a registry (unit
// tests, `sluice check`) work unchanged and their metric references never dangle.
class MetricScope {
 public:
  MetricScope();
  MetricScope(MetricsRegistry* registry, MetricLabels labels);

  // The same registry with `more` labels appended.
  MetricScope With(const MetricLabels& more) const;

  Counter& GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& more = {}) const;
  Gauge& GetGauge(const std::string& name, const std::string& help,
                  const MetricLabels& more = {}) const;
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const MetricLabels& more = {},
                          const std::vector<double>& bounds = LatencyBuckets()) const;

  MetricsRegistry* registry() const { return registry_; }
  const MetricLabels& labels() const { return labels_; }

 private:
  MetricLabels Join(const MetricLabels& more) const;

  MetricsRegistry* registry_;  // not owned; outlives every component holding its metrics
  MetricLabels labels_;
};

}  // namespace sluice
