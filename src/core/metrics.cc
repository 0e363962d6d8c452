#include "core/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace sluice {

namespace {

// Prometheus label values escape backslash, double quote and newline.
std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// HELP text escapes backslash and newline.
std::string EscapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string FormatLabels(const MetricLabels& labels, const std::string& extra_name = {},
                         const std::string& extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + EscapeLabel(v) + '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name + "=\"" + EscapeLabel(extra_value) + '"';
  }
  return out + "}";
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v, uint64_t count) {
  if (count == 0) return;
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(count, std::memory_order_relaxed);
  count_.fetch_add(count, std::memory_order_relaxed);
  sum_.fetch_add(v * static_cast<double>(count), std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

MetricsRegistry::Series& MetricsRegistry::Find(const std::string& name, const std::string& help,
                                               MetricType type, const MetricLabels& labels) {
  auto [it, inserted] = families_.try_emplace(name);
  Family& family = it->second;
  if (inserted) {
    family.help = help;
    family.type = type;
  } else if (family.type != type) {
    std::fprintf(stderr, "metric %s registered with two types\n", name.c_str());
    std::abort();
  }
  return family.series[labels];
}

Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = Find(name, help, MetricType::kCounter, labels);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = Find(name, help, MetricType::kGauge, labels);
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const MetricLabels& labels,
                                         const std::vector<double>& bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Series& s = Find(name, help, MetricType::kHistogram, labels);
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(bounds);
  return *s.histogram;
}

std::string MetricsRegistry::RenderText() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + ' ' + EscapeHelp(family.help) + '\n';
    out += "# TYPE " + name + ' ' + TypeName(family.type) + '\n';
    for (const auto& [labels, series] : family.series) {
      switch (family.type) {
        case MetricType::kCounter:
          out += name + FormatLabels(labels) + ' ' + std::to_string(series.counter->Value()) + '\n';
          break;
        case MetricType::kGauge:
          out += name + FormatLabels(labels) + ' ' + FormatNumber(series.gauge->Value()) + '\n';
          break;
        case MetricType::kHistogram: {
          const Histogram& h = *series.histogram;
          std::vector<uint64_t> counts = h.CumulativeCounts();
          for (size_t i = 0; i < counts.size(); ++i) {
            std::string le = i < h.bounds().size() ? FormatNumber(h.bounds()[i]) : "+Inf";
            out += name + "_bucket" + FormatLabels(labels, "le", le) + ' ' +
                   std::to_string(counts[i]) + '\n';
          }
          out += name + "_sum" + FormatLabels(labels) + ' ' + FormatNumber(h.Sum()) + '\n';
          out +=
              name + "_count" + FormatLabels(labels) + ' ' + std::to_string(counts.back()) + '\n';
          break;
        }
      }
    }
  }
  return out;
}

std::vector<MetricSample> MetricsRegistry::Collect() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MetricSample> out;
  for (const auto& [name, family] : families_) {
    for (const auto& [labels, series] : family.series) {
      MetricSample s{name, family.type, labels};
      switch (family.type) {
        case MetricType::kCounter:
          s.value = static_cast<double>(series.counter->Value());
          break;
        case MetricType::kGauge:
          s.value = series.gauge->Value();
          break;
        case MetricType::kHistogram:
          s.value = static_cast<double>(series.histogram->Count());
          s.sum = series.histogram->Sum();
          break;
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

namespace {
// Never destroyed: components may update their metrics until the very end of the process.
MetricsRegistry* Unobserved() {
  static MetricsRegistry* registry = new MetricsRegistry();
  return registry;
}
}  // namespace

MetricScope::MetricScope() : registry_(Unobserved()) {}

MetricScope::MetricScope(MetricsRegistry* registry, MetricLabels labels)
    : registry_(registry), labels_(std::move(labels)) {}

MetricScope MetricScope::With(const MetricLabels& more) const {
  MetricScope out = *this;
  out.labels_ = Join(more);
  return out;
}

MetricLabels MetricScope::Join(const MetricLabels& more) const {
  MetricLabels all = labels_;
  all.insert(all.end(), more.begin(), more.end());
  return all;
}

Counter& MetricScope::GetCounter(const std::string& name, const std::string& help,
                                 const MetricLabels& more) const {
  return registry_->GetCounter(name, help, Join(more));
}

Gauge& MetricScope::GetGauge(const std::string& name, const std::string& help,
                             const MetricLabels& more) const {
  return registry_->GetGauge(name, help, Join(more));
}

Histogram& MetricScope::GetHistogram(const std::string& name, const std::string& help,
                                     const MetricLabels& more,
                                     const std::vector<double>& bounds) const {
  return registry_->GetHistogram(name, help, Join(more), bounds);
}

}  // namespace sluice
