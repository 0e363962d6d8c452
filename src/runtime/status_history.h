// StatusHistory: a bounded in-memory ring of what each pipeline looked like over the last
// minutes (lag, throughput per sink, sink up/down, snapshot progress), for the status page's
// plots and GET /status/history. Fed from the daemon's reports; nothing is kept on disk.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/report.h"

namespace sluice {

// One sample every 2 s for 15 minutes: 450 samples per pipeline (about 100 bytes each plus
// 24 per sink), so the ring stays under a few hundred kB for dozens of pipelines.
inline constexpr std::chrono::seconds kHistoryInterval{2};
inline constexpr size_t kHistorySamples = 450;

// Owned by the daemon. Thread-safe: the daemon's thread records, the HTTP workers read.
class StatusHistory {
 public:
  explicit StatusHistory(size_t capacity = kHistorySamples,
                         std::chrono::milliseconds interval = kHistoryInterval);

  // Samples `report` taken at `unix_ms`, unless the last sample is younger than the
  // interval. Throughput is the change in each sink's applied changes since the last
  // sample, per second (none for a pipeline's first sample). Pipelines absent from `report`
  // are forgotten.
  void Record(int64_t unix_ms, const DaemonReport& report);

  // The ring, oldest first, one column per series (see README "Status history"):
  // {"interval_seconds", "capacity", "pipelines": [{"name", "t": [unix_ms...],
  //  "lag_seconds", "lag_bytes", "snapshot_rows_done", "snapshot_rows_estimated",
  //  "sinks": [{"name", "changes_per_second", "up"}]}]}. Samples at or before `since_ms`
  // are left out.
  nlohmann::json Json(int64_t since_ms = 0) const;

  size_t capacity() const { return capacity_; }

 private:
  struct SinkSample {
    std::optional<double> changes_per_second;
    bool up = true;
  };
  struct Sample {
    int64_t unix_ms = 0;
    double lag_seconds = 0;
    std::optional<double> lag_bytes;
    std::optional<double> rows_done;
    std::optional<double> rows_estimated;
    std::vector<SinkSample> sinks;  // in the order of Series::sinks
  };
  struct Series {
    std::vector<std::string> sinks;
    std::vector<double> last_applied;  // per sink: applied changes at the last sample
    std::deque<Sample> samples;
  };

  static Sample Take(const PipelineReport& p, int64_t unix_ms, Series* series);
  static nlohmann::json SeriesJson(const std::string& name, const Series& s, int64_t since_ms);

  const size_t capacity_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::map<std::string, Series> pipelines_;  // guarded by mu_
  std::vector<std::string> order_;           // pipeline names in report order; guarded by mu_
  int64_t last_ms_ = 0;                      // guarded by mu_
};

}  // namespace sluice
