// Daemon: turns a validated Config into running pipelines and supervises them until a
// signal asks it to stop. A failing pipeline is logged and ends alone; the others go on.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "core/registry.h"
#include "core/state_store.h"
#include "runtime/config.h"
#include "runtime/dead_letter_file.h"
#include "runtime/pipeline.h"

namespace sluice {

// The parts of one pipeline, built but not started.
struct PipelineParts {
  std::unique_ptr<StateStore> state;
  std::unique_ptr<Source> source;
  std::shared_ptr<SourceStatus> source_status;  // the source keeps it current
  std::vector<NamedSink> sinks;
};

// Creates the source and sinks of `pipeline` through the registry. `dead_letters`, `metrics`
// (null: each part keeps private metrics) and the returned state store must outlive the parts.
Result<PipelineParts> BuildPipelineParts(const Config& config, const PipelineConfig& pipeline,
                                         const Registry& registry, DeadLetters* dead_letters,
                                         MetricsRegistry* metrics = nullptr);

// Exit codes documented in the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class Daemon {
 public:
  Daemon(Config config, const Registry& registry);
  // Runs until every pipeline has ended. `signals` counts SIGTERM/SIGINT received: the
  // first asks for a graceful stop (bounded by `shutdown_timeout`), the second aborts.
  // Returns kExitOk after a clean stop, kExitFailure if any pipeline failed.
  int Run(const std::atomic<int>& signals, std::chrono::milliseconds shutdown_timeout);

 private:
  Config config_;
  const Registry& registry_;
};

}  // namespace sluice
