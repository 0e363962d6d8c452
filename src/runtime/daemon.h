// Daemon: turns a validated Config into running pipelines and supervises them until a
// signal asks it to stop. A failing pipeline is logged and ends alone; the others go on.
// A reload (SIGHUP, POST /reload) re-reads the config file and starts, stops or restarts
// only the pipelines it changes (reload_plan.h).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/state_store.h"
#include "runtime/config.h"
#include "runtime/dead_letter_file.h"
#include "runtime/pipeline.h"
#include "runtime/pipeline_parts.h"
#include "runtime/reload_plan.h"
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

// What a reload did: the answer of POST /reload and `sluice reload`.
struct ReloadOutcome {
  bool applied = false;             // false: refused, the running config stays in force
  bool stopping = false;            // refused because sluice is stopping
  std::vector<std::string> errors;  // why it was refused ("file:line:column: message", ...)
  ReloadPlan plan;                  // what it changed, when applied
  nlohmann::json ToJson() const;
};

// Owned by main. Run() once, from the main thread; the HTTP server's threads call Report(),
// MetricsText() and RequestReload() while it runs.
class Daemon {
 public:
  Daemon(Config config, const Registry& registry);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until every pipeline has ended. `signals` counts SIGTERM/SIGINT received: the
  // first asks for a graceful stop (bounded by config.shutdown_timeout), the second aborts.
  // Each increment of `reloads` (SIGHUP) reloads the config file.
  // Returns kExitOk after a clean stop, kExitFailure if a pipeline failed or the HTTP
  // listener could not start, kExitAborted after a stop without draining.
  int Run(const std::atomic<int>& signals, const std::atomic<int>& reloads);

  // Thread-safe views for the endpoints.
  DaemonReport Report();
  std::string MetricsText();

  // Queues a reload of the config file; Run()'s thread carries it out and then calls `done`
  // (null: only logged). Any thread.
  void RequestReload(std::function<void(const ReloadOutcome&)> done);

 private:
  struct Running {
    std::shared_ptr<const PipelineConfig> config;  // swapped on reload; read under mu_
    std::unique_ptr<StateStore> state;             // outlives the pipeline
    std::unique_ptr<Pipeline> pipeline;            // null when it could not be built
    std::string build_error;
    bool started = false;
    bool retiring = false;  // removed or replaced by a reload: stopping, then dropped
    std::chrono::steady_clock::time_point retire_deadline;
    bool aborted = false;
  };
  std::shared_ptr<Running> Build(const Config& config, const PipelineConfig& pc);
  // Starts what was built, unless an older pipeline of the same name still stops.
  void StartReady();
  // Waits for the pipelines to end, handling signals and reloads; returns whether it had
  // to abort.
  bool Supervise(const std::atomic<int>& signals, const std::atomic<int>& reloads);
  ReloadOutcome Reload();
  void Apply(Config next, const ReloadPlan& plan);
  void Retire(Running& r);
  // Drops retiring pipelines that have ended (aborting those past their deadline).
  void Reap(std::chrono::steady_clock::time_point now);
  std::vector<std::shared_ptr<Running>> Snapshot();
  // What /wait can wait on: every pipeline not retiring, with its waiters or why it has none.
  std::vector<WaitService::Target> WaitTargets();

  const Registry& registry_;
  MetricsRegistry metrics_;  // outlives the pipelines and sinks holding its metrics
  std::unique_ptr<FileDeadLetters> dead_letters_;
  std::atomic<bool> stopping_{false};

  std::mutex mu_;  // guards the members below against the HTTP threads
  Config config_;  // the config in force
  std::vector<std::shared_ptr<Running>> running_;
  std::deque<std::function<void(const ReloadOutcome&)>> reload_requests_;

  // The last minutes of every pipeline, for the status page (/status/history).
  StatusHistory history_;
  std::unique_ptr<WaitService> waits_;  // made in Run(), before the HTTP server
};

}  // namespace sluice
