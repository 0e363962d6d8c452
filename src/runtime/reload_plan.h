// What a config reload changes: which pipelines start, stop, restart or run on untouched,
// and which top-level settings changed that only a restart applies. Pure: the daemon
// (daemon.h) carries the plan out.
#pragma once

#include <string>
#include <vector>

#include "runtime/config_model.h"

namespace sluice {

struct ReloadPlan {
  std::vector<std::string> added;      // in the new config only: start
  std::vector<std::string> removed;    // in the running config only: stop (state kept)
  std::vector<std::string> changed;    // differ in anything they run with: restart alone
  std::vector<std::string> unchanged;  // run on, not reconnected
  // Top-level settings the new file changes but a running daemon keeps until its next
  // start: "state_dir", "http.listen", "http.token", "http limits", "log.format", "log.level".
  std::vector<std::string> needs_restart;
};

// Compares by what each pipeline runs with: its tables, transforms and sinks, its source's
// and sinks' entries, its source options, and the batch and queue limits. Where things are
// written in the file does not count, nor do readiness, shutdown_timeout, wedged_after and
// log.progress_interval, which a running pipeline takes at once.
ReloadPlan PlanReload(const Config& running, const Config& next);

// The pipeline's run-time identity as text (equal text: nothing it runs with changed).
std::string PipelineFingerprint(const Config& config, const PipelineConfig& pipeline);

}  // namespace sluice
