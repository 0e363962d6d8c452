#include "runtime/daemon.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <thread>

#include "runtime/check.h"
#include "runtime/http_server.h"
#include "runtime/lifecycle_log.h"
#include "runtime/process_metrics.h"
#include "runtime/version.h"
#include "runtime/wait_service.h"
#include "util/redact.h"

namespace sluice {

namespace {

// After an abort, how long pipeline threads get to leave their sink calls.
constexpr std::chrono::milliseconds kAbortGrace(1000);

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Daemon::Daemon(Config config, const Registry& registry)
    : config_(std::move(config)), registry_(registry) {}

Daemon::~Daemon() = default;

void Daemon::Build(DeadLetters* dead_letters) {
  for (const PipelineConfig& pc : config_.pipelines) {
    Running r;
    r.config = &pc;
    auto parts = BuildPipelineParts(config_, pc, registry_, dead_letters, &metrics_);
    if (!parts.ok()) {
      r.build_error = Redact(parts.status().ToString());
      spdlog::error("pipeline {}: {}", pc.name, r.build_error);
      running_.push_back(std::move(r));
      continue;
    }
    // Refuse a pipeline whose sinks cannot serve its tables (a key template naming a dropped
    // column, unchanged TOAST values a sink cannot merge) before it reads anything.
    Status schema = CheckSinkSchemas(pc, *parts->source, parts->sinks);
    if (!schema.ok()) {
      r.build_error = Redact(schema.ToString());
      spdlog::error("pipeline {}: {}", pc.name, r.build_error);
      running_.push_back(std::move(r));
      continue;
    }
    r.state = std::move(parts->state);
    r.pipeline = std::make_unique<Pipeline>(
        pc.name, std::move(parts->source), std::move(parts->sinks), BuildTransforms(pc.transforms),
        PipelineLimits{config_.queue_max_batches, config_.queue_max_bytes},
        PipelineTelemetry{MetricScope(&metrics_, {{"pipeline", pc.name}}), parts->source_status,
                          parts->durability, parts->commit_positions, parts->wait_reach});
    running_.push_back(std::move(r));
  }
}

DaemonReport Daemon::Report() {
  DaemonReport report;
  report.version = Version();
  report.commit = Commit();
  report.uptime_seconds = UptimeSeconds(ReadProcessStats());
  report.stopping = stopping_;
  report.wedged_after_seconds = std::chrono::duration<double>(config_.wedged_after).count();
  std::vector<MetricSample> samples = metrics_.Collect();
  for (Running& r : running_) {
    PipelineReport p;
    if (r.pipeline) {
      p = r.pipeline->Report();
    } else {
      p.name = r.config->name;
      p.running = false;
      p.failure = r.build_error;
    }
    p.source = r.config->source;
    p.policy = r.config->readiness;
    AddMetrics(samples, &p);
    report.pipelines.push_back(std::move(p));
  }
  return report;
}

std::string Daemon::MetricsText() {
  for (Running& r : running_) {
    if (r.pipeline) (void)r.pipeline->Report();  // refreshes queue depth and lag gauges
  }
  return metrics_.RenderText() + RenderProcessMetrics(ReadProcessStats(), Version(), Commit());
}

bool Daemon::Supervise(const std::atomic<int>& signals) {
  using Clock = std::chrono::steady_clock;
  LifecycleLog lifecycle(config_.log_progress_interval);
  auto deadline = Clock::time_point::max();
  auto next_look = Clock::now();
  bool aborted = false;
  while (true) {
    bool all_done = true;
    for (Running& r : running_) all_done = all_done && (!r.pipeline || r.pipeline->Done());
    if (all_done) return aborted;
    auto now = Clock::now();
    if (now >= next_look) {
      DaemonReport report = Report();
      history_.Record(UnixMillis(), report);
      lifecycle.Observe(report.pipelines, now);
      next_look = now + std::chrono::milliseconds(250);
    }
    int n = signals.load();
    if (n >= 1 && !stopping_) {
      stopping_ = true;
      deadline = now + config_.shutdown_timeout;
      spdlog::info("stopping: draining pipelines within {} ms (a second signal stops at once)",
                   config_.shutdown_timeout.count());
      for (Running& r : running_) {
        if (r.pipeline) r.pipeline->RequestStop();
      }
    }
    if (!aborted && (n >= 2 || now > deadline)) {
      aborted = true;
      spdlog::warn("stopping now without draining ({}); nothing unflushed was confirmed",
                   n >= 2 ? "second signal" : "shutdown_timeout passed");
      for (Running& r : running_) {
        if (r.pipeline) r.pipeline->Abort();
      }
      deadline = now + kAbortGrace;
    } else if (aborted && now > deadline) {
      // A sink call that does not return (a hung connection) must not hold the exit.
      // Leaving is safe: only what every sink made durable was ever confirmed.
      spdlog::warn("exiting with pipeline threads still inside sink calls");
      spdlog::default_logger()->flush();
      std::_Exit(kExitAborted);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<WaitService::Target> Daemon::WaitTargets() {
  std::vector<WaitService::Target> targets;
  for (Running& r : running_) {
    WaitService::Target t;
    t.pipeline = r.config->name;
    if (!r.pipeline) {
      t.unavailable = "pipeline " + t.pipeline + " could not start: " + r.build_error;
    } else if ((t.waiters = r.pipeline->waiters()) == nullptr) {
      const PluginConfig* source = config_.FindSource(r.config->source);
      t.unavailable = "pipeline " + t.pipeline + " reads a " + (source ? source->type : "") +
                      " source, whose positions are not commit LSNs; /wait needs a source "
                      "that has them (postgres)";
      t.unavailable_status = 400;
    }
    targets.push_back(std::move(t));
  }
  return targets;
}

int Daemon::Run(const std::atomic<int>& signals) {
  FileDeadLetters dead_letters(config_.state_dir + "/dead_letters");
  Build(&dead_letters);
  // Declared before the server, which calls it, and stopped after it.
  WaitService waits(WaitTargets(), config_.MaxWaiters(), MetricScope(&metrics_, {}));
  waits.Start();
  HttpHandlers handlers;
  handlers.report = [this] { return Report(); };
  handlers.metrics = [this] { return MetricsText(); };
  handlers.history = [this](int64_t since) { return history_.Json(since); };
  handlers.wait = [&waits](const HttpRequest& request, HttpReply reply) {
    waits.Handle(request, std::move(reply));
  };
  HttpServer http({config_.http_listen, config_.http_token, config_.http_limits},
                  std::move(handlers), MetricScope(&metrics_, {}));
  if (Status s = http.Start(); !s.ok()) {
    spdlog::error("{}", s.message());
    return kExitFailure;
  }
  for (Running& r : running_) {
    if (r.pipeline) r.pipeline->Start();
  }
  bool aborted = Supervise(signals);
  bool failed = false;
  for (Running& r : running_) {
    if (!r.pipeline || !r.pipeline->Wait().ok()) failed = true;
  }
  http.Stop();
  waits.Stop();
  if (failed) return kExitFailure;
  return aborted ? kExitAborted : kExitOk;
}

}  // namespace sluice
