#include "runtime/lifecycle_log.h"

#include <spdlog/spdlog.h>

namespace sluice {

namespace {

std::string Rows(const std::optional<double>& v) {
  return v ? std::to_string(static_cast<uint64_t>(*v)) : std::string("?");
}

void LogPhase(const PipelineReport& p) {
  const std::string detail = p.detail.empty() ? "" : " (" + p.detail + ")";
  switch (p.phase) {
    case SourcePhase::kReconnecting:
      spdlog::warn("pipeline {}: source reconnecting{}", p.name, detail);
      break;
    case SourcePhase::kStopped:
      break;  // the pipeline logs its own stop
    default:
      spdlog::info("pipeline {}: {}{}", p.name, SourcePhaseName(p.phase), detail);
  }
}

}  // namespace

void LifecycleLog::Observe(const std::vector<PipelineReport>& reports, Clock::time_point now) {
  for (const PipelineReport& p : reports) {
    if (!p.running) continue;
    auto [it, first] = seen_.try_emplace(p.name, Seen{p.phase, now});
    Seen& seen = it->second;
    if (!first && seen.phase != p.phase) {
      seen.phase = p.phase;
      seen.last_progress = now;
      LogPhase(p);
    } else if (first && p.phase != SourcePhase::kStarting) {
      LogPhase(p);
    }
    if (p.phase == SourcePhase::kSnapshot && now - seen.last_progress >= progress_interval_) {
      seen.last_progress = now;
      spdlog::info("pipeline {}: snapshot progress {} of about {} rows", p.name,
                   Rows(p.snapshot_rows_done), Rows(p.snapshot_rows_estimated));
    }
  }
}

}  // namespace sluice
