// Daemon: turns a validated Config into running pipelines and supervises them until a
// signal asks it to stop. A failing pipeline is logged and ends alone; the others go on.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/state_store.h"
#include "runtime/config.h"
#include "runtime/dead_letter_file.h"
#include "runtime/pipeline.h"
#include "runtime/pipeline_parts.h"
#include "runtime/report.h"
#include "runtime/status_history.h"
#include "runtime/wait_service.h"

namespace sluice {

// Exit codes documented in the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
// Stopped without draining (a second signal, or shutdown_timeout passed). Safe: nothing
// that was not durable was confirmed, so the next start replays it.
inline constexpr int kExitAborted = 3;

// Owned by main. Run() once, from the main thread; the HTTP server's threads call Report()
// and MetricsText() while it runs.
class Daemon {
 public:
  Daemon(Config config, const Registry& registry);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until every pipeline has ended. `signals` counts SIGTERM/SIGINT received: the
  // first asks for a graceful stop (bounded by config.shutdown_timeout), the second aborts.
  // Returns kExitOk after a clean stop, kExitFailure if a pipeline failed or the HTTP
  // listener could not start, kExitAborted after a stop without draining.
  int Run(const std::atomic<int>& signals);

  // Thread-safe views for the endpoints.
  DaemonReport Report();
  std::string MetricsText();

 private:
  struct Running {
    const PipelineConfig* config = nullptr;
    std::unique_ptr<StateStore> state;   // outlives the pipeline
    std::unique_ptr<Pipeline> pipeline;  // null when it could not be built
    std::string build_error;
  };
  void Build(DeadLetters* dead_letters);
  // What /wait can wait on: every pipeline, with its waiters or why it has none.
  std::vector<WaitService::Target> WaitTargets();
  // Waits for the pipelines to end, handling signals; returns whether it had to abort.
  bool Supervise(const std::atomic<int>& signals);

  Config config_;
  const Registry& registry_;
  MetricsRegistry metrics_;       // outlives the pipelines and sinks holding its metrics
  std::vector<Running> running_;  // fixed before the HTTP server starts
  std::atomic<bool> stopping_{false};
  // The last minutes of every pipeline, for the status page (/status/history).
  StatusHistory history_;
};

}  // namespace sluice
