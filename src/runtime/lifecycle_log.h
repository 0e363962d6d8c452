// LifecycleLog: one log line per pipeline lifecycle event seen from outside the pipeline --
// the source entering a phase (snapshot, streaming, reconnecting) and, while snapshotting,
// progress every interval. Sink down/up lines come from the pipeline itself.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "runtime/report.h"

namespace sluice {

// Owned and called by the daemon's supervising thread only.
class LifecycleLog {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LifecycleLog(std::chrono::milliseconds progress_interval)
      : progress_interval_(progress_interval) {}

  void Observe(const std::vector<PipelineReport>& reports, Clock::time_point now);

 private:
  struct Seen {
    SourcePhase phase = SourcePhase::kStarting;
    Clock::time_point last_progress;
  };
  const std::chrono::milliseconds progress_interval_;
  std::map<std::string, Seen> seen_;
};

}  // namespace sluice
