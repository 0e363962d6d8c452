#include "runtime/status_history.h"

#include <cmath>

namespace sluice {

namespace {

double Applied(const SinkReport& s) {
  double total = 0;
  for (const auto& [op, n] : s.changes) total += n;
  return total;
}

nlohmann::json OrNull(const std::optional<double>& v) {
  return v ? nlohmann::json(std::round(*v * 100) / 100) : nlohmann::json(nullptr);
}

}  // namespace

StatusHistory::StatusHistory(size_t capacity, std::chrono::milliseconds interval)
    : capacity_(capacity), interval_(interval) {}

StatusHistory::Sample StatusHistory::Take(const PipelineReport& p, int64_t unix_ms,
                                          Series* series) {
  std::vector<std::string> names;
  for (const SinkReport& s : p.sinks) names.push_back(s.name);
  const bool first = series->samples.empty() || names != series->sinks;
  if (names != series->sinks) {  // a pipeline restarted with other sinks starts over
    series->samples.clear();
    series->sinks = names;
  }
  Sample sample;
  sample.unix_ms = unix_ms;
  sample.lag_seconds = p.lag_seconds;
  sample.lag_bytes = p.lag_bytes;
  sample.rows_done = p.snapshot_rows_done;
  sample.rows_estimated = p.snapshot_rows_estimated;
  const double seconds =
      first ? 0 : static_cast<double>(unix_ms - series->samples.back().unix_ms) / 1000.0;
  series->last_applied.resize(p.sinks.size(), 0);
  for (size_t i = 0; i < p.sinks.size(); ++i) {
    SinkSample s;
    s.up = p.sinks[i].up;
    const double applied = Applied(p.sinks[i]);
    // A counter that went back (a restarted pipeline) gives no rate for this sample.
    if (!first && seconds > 0 && applied >= series->last_applied[i]) {
      s.changes_per_second = (applied - series->last_applied[i]) / seconds;
    }
    series->last_applied[i] = applied;
    sample.sinks.push_back(s);
  }
  return sample;
}

void StatusHistory::Record(int64_t unix_ms, const DaemonReport& report) {
  std::lock_guard lock(mu_);
  if (last_ms_ != 0 && unix_ms - last_ms_ < interval_.count()) return;
  last_ms_ = unix_ms;
  std::map<std::string, Series> kept;
  order_.clear();
  for (const PipelineReport& p : report.pipelines) {
    Series series;
    if (auto it = pipelines_.find(p.name); it != pipelines_.end()) series = std::move(it->second);
    series.samples.push_back(Take(p, unix_ms, &series));
    while (series.samples.size() > capacity_) series.samples.pop_front();
    order_.push_back(p.name);
    kept[p.name] = std::move(series);
  }
  pipelines_ = std::move(kept);
}

nlohmann::json StatusHistory::SeriesJson(const std::string& name, const Series& s,
                                         int64_t since_ms) {
  nlohmann::json t = nlohmann::json::array(), lag = nlohmann::json::array(),
                 bytes = nlohmann::json::array(), done = nlohmann::json::array(),
                 estimated = nlohmann::json::array();
  std::vector<nlohmann::json> rates(s.sinks.size(), nlohmann::json::array());
  std::vector<nlohmann::json> ups(s.sinks.size(), nlohmann::json::array());
  for (const Sample& x : s.samples) {
    if (x.unix_ms <= since_ms) continue;
    t.push_back(x.unix_ms);
    lag.push_back(std::round(x.lag_seconds * 1000) / 1000);
    bytes.push_back(OrNull(x.lag_bytes));
    done.push_back(OrNull(x.rows_done));
    estimated.push_back(OrNull(x.rows_estimated));
    for (size_t i = 0; i < s.sinks.size() && i < x.sinks.size(); ++i) {
      rates[i].push_back(OrNull(x.sinks[i].changes_per_second));
      ups[i].push_back(x.sinks[i].up);
    }
  }
  nlohmann::json sinks = nlohmann::json::array();
  for (size_t i = 0; i < s.sinks.size(); ++i) {
    sinks.push_back({{"name", s.sinks[i]}, {"changes_per_second", rates[i]}, {"up", ups[i]}});
  }
  return {{"name", name},
          {"t", t},
          {"lag_seconds", lag},
          {"lag_bytes", bytes},
          {"snapshot_rows_done", done},
          {"snapshot_rows_estimated", estimated},
          {"sinks", sinks}};
}

nlohmann::json StatusHistory::Json(int64_t since_ms) const {
  std::lock_guard lock(mu_);
  nlohmann::json pipelines = nlohmann::json::array();
  for (const std::string& name : order_) {
    pipelines.push_back(SeriesJson(name, pipelines_.at(name), since_ms));
  }
  return {{"interval_seconds", std::chrono::duration<double>(interval_).count()},
          {"capacity", capacity_},
          {"pipelines", pipelines}};
}

}  // namespace sluice
