#include "runtime/daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "runtime/check.h"
#include "runtime/http_server.h"
#include "runtime/interpolate.h"
#include "runtime/lifecycle_log.h"
#include "runtime/process_metrics.h"
#include "runtime/version.h"
#include "runtime/wait_service.h"
#include "util/redact.h"

namespace sluice {

namespace {

using Clock = std::chrono::steady_clock;

// After an abort, how long pipeline threads get to leave their sink calls.
constexpr std::chrono::milliseconds kAbortGrace(1000);

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

nlohmann::json ReloadOutcome::ToJson() const {
  nlohmann::json j = {{"applied", applied}, {"errors", errors}};
  if (applied) {
    j["added"] = plan.added;
    j["removed"] = plan.removed;
    j["restarted"] = plan.changed;
    j["unchanged"] = plan.unchanged;
    j["needs_restart"] = plan.needs_restart;
  }
  return j;
}

Daemon::Daemon(Config config, const Registry& registry)
    : registry_(registry), config_(std::move(config)) {}

Daemon::~Daemon() = default;

std::shared_ptr<Daemon::Running> Daemon::Build(const Config& config, const PipelineConfig& pc) {
  auto r = std::make_shared<Running>();
  r->config = std::make_shared<const PipelineConfig>(pc);
  auto parts = BuildPipelineParts(config, pc, registry_, dead_letters_.get(), &metrics_);
  if (!parts.ok()) {
    r->build_error = Redact(parts.status().ToString());
    spdlog::error("pipeline {}: {}", pc.name, r->build_error);
    return r;
  }
  // Refuse a pipeline whose sinks cannot serve its tables (a key template naming a dropped
  // column, unchanged TOAST values a sink cannot merge) before it reads anything.
  Status schema = CheckSinkSchemas(pc, *parts->source, parts->sinks);
  if (!schema.ok()) {
    r->build_error = Redact(schema.ToString());
    spdlog::error("pipeline {}: {}", pc.name, r->build_error);
    return r;
  }
  r->state = std::move(parts->state);
  r->pipeline = std::make_unique<Pipeline>(
      pc.name, std::move(parts->source), std::move(parts->sinks), BuildTransforms(pc.transforms),
      PipelineLimits{config.queue_max_batches, config.queue_max_bytes},
      PipelineTelemetry{MetricScope(&metrics_, {{"pipeline", pc.name}}), parts->source_status,
                        parts->durability, parts->commit_positions, parts->wait_reach});
  return r;
}

std::vector<std::shared_ptr<Daemon::Running>> Daemon::Snapshot() {
  std::lock_guard lock(mu_);
  return running_;
}

DaemonReport Daemon::Report() {
  DaemonReport report;
  report.version = Version();
  report.commit = Commit();
  report.uptime_seconds = UptimeSeconds(ReadProcessStats());
  report.stopping = stopping_;
  std::vector<std::pair<std::shared_ptr<Running>, std::shared_ptr<const PipelineConfig>>> all;
  {
    std::lock_guard lock(mu_);
    report.wedged_after_seconds = std::chrono::duration<double>(config_.wedged_after).count();
    for (const auto& r : running_) all.emplace_back(r, r->config);
  }
  std::vector<MetricSample> samples = metrics_.Collect();
  for (auto& [r, config] : all) {
    PipelineReport p;
    if (r->pipeline) {
      p = r->pipeline->Report();
    } else {
      p.name = config->name;
      p.running = false;
      p.failure = r->build_error;
    }
    p.source = config->source;
    p.policy = config->readiness;
    AddMetrics(samples, &p);
    report.pipelines.push_back(std::move(p));
  }
  return report;
}

std::string Daemon::MetricsText() {
  for (const auto& r : Snapshot()) {
    if (r->pipeline) (void)r->pipeline->Report();  // refreshes queue depth and lag gauges
  }
  return metrics_.RenderText() + RenderProcessMetrics(ReadProcessStats(), Version(), Commit());
}

void Daemon::RequestReload(std::function<void(const ReloadOutcome&)> done) {
  std::lock_guard lock(mu_);
  reload_requests_.push_back(done ? std::move(done) : [](const ReloadOutcome&) {});
}

ReloadOutcome Daemon::Reload() {
  ReloadOutcome out;
  if (stopping_) {
    out.stopping = true;
    out.errors.emplace_back("sluice is stopping; the config is not reloaded");
    return out;
  }
  std::string file;
  {
    std::lock_guard lock(mu_);
    file = config_.file;
  }
  LoadResult loaded = LoadConfigFile(file, registry_, ProcessEnv());
  for (const Diagnostic& d : loaded.errors) out.errors.push_back(d.ToString());
  if (!loaded.ok()) {
    spdlog::error("reload of {} refused ({} error(s)); the running config stays in force", file,
                  out.errors.size());
    for (const std::string& e : out.errors) spdlog::error("reload: {}", e);
    return out;
  }
  Config next = std::move(loaded.config);
  {
    std::lock_guard lock(mu_);
    out.plan = PlanReload(config_, next);
    // What only a start applies keeps its running value (the state directory above all:
    // pipelines that run on keep theirs).
    next.state_dir = config_.state_dir;
    next.http_listen = config_.http_listen;
    next.http_token = config_.http_token;
    next.http_limits = config_.http_limits;
    next.log_format = config_.log_format;
    next.log_level = config_.log_level;
  }
  out.applied = true;
  const ReloadPlan& plan = out.plan;
  spdlog::info("reload of {}: added {}; removed {}; restarted {}; unchanged {}", file,
               JoinNames(plan.added), JoinNames(plan.removed), JoinNames(plan.changed),
               JoinNames(plan.unchanged));
  if (!plan.needs_restart.empty()) {
    spdlog::warn("reload: {} changed; that takes effect at the next start of sluice",
                 JoinNames(plan.needs_restart));
  }
  Apply(std::move(next), plan);
  if (waits_) waits_->SetTargets(WaitTargets());
  return out;
}

void Daemon::Retire(Running& r) {
  r.retiring = true;
  r.retire_deadline = Clock::now() + config_.shutdown_timeout;
  if (r.pipeline && r.started) r.pipeline->RequestStop();
}

void Daemon::Apply(Config next, const ReloadPlan& plan) {
  auto listed = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  std::vector<std::shared_ptr<Running>> built;
  for (const PipelineConfig& pc : next.pipelines) {
    if (listed(plan.added, pc.name) || listed(plan.changed, pc.name)) {
      built.push_back(Build(next, pc));
    }
  }
  std::lock_guard lock(mu_);
  for (const auto& r : running_) {
    if (r->retiring) continue;
    const std::string name = r->config->name;  // a copy: r->config may be replaced below
    if (listed(plan.removed, name) || listed(plan.changed, name)) {
      Retire(*r);
      if (listed(plan.removed, name)) {
        spdlog::info(
            "pipeline {} removed from the config: stopping it; its replication slot and state "
            "are kept, and the slot holds the server's WAL until it is dropped",
            name);
      } else {
        spdlog::info("pipeline {} changed: restarting it alone", name);
      }
    } else {
      // Runs on; takes what a running pipeline may take at once (readiness, locations).
      for (const PipelineConfig& pc : next.pipelines) {
        if (pc.name == name) r->config = std::make_shared<const PipelineConfig>(pc);
      }
    }
  }
  for (auto& r : built) running_.push_back(std::move(r));
  config_ = std::move(next);
}

void Daemon::StartReady() {
  std::lock_guard lock(mu_);
  for (const auto& r : running_) {
    if (r->started || r->retiring || !r->pipeline) continue;
    bool predecessor = false;  // the same slot and state directory are still in use
    for (const auto& o : running_) {
      predecessor = predecessor || (o != r && o->retiring && o->config->name == r->config->name);
    }
    if (predecessor) continue;
    r->started = true;
    r->pipeline->Start();
  }
}

void Daemon::Reap(Clock::time_point now) {
  std::vector<std::shared_ptr<Running>> ended;
  {
    std::lock_guard lock(mu_);
    for (auto it = running_.begin(); it != running_.end();) {
      Running& r = **it;
      bool over = !r.pipeline || !r.started || r.pipeline->Done();
      if (r.retiring && over) {
        ended.push_back(*it);
        it = running_.erase(it);
        continue;
      }
      if (r.retiring && !r.aborted && now > r.retire_deadline) {
        spdlog::warn("pipeline {} did not stop within shutdown_timeout: stopping it now",
                     r.config->name);
        r.aborted = true;
        r.pipeline->Abort();
      }
      ++it;
    }
  }
  for (const auto& r : ended) {
    if (r->pipeline && r->started) {
      Status s = r->pipeline->Wait();
      spdlog::info("pipeline {} stopped{}", r->config->name,
                   s.ok() ? "" : " (" + Redact(s.ToString()) + ")");
    }
  }
}

bool Daemon::Supervise(const std::atomic<int>& signals, const std::atomic<int>& reloads) {
  LifecycleLog lifecycle(config_.log_progress_interval);
  auto deadline = Clock::time_point::max();
  auto next_look = Clock::now();
  bool aborted = false;
  int reloads_seen = reloads.load();
  while (true) {
    auto now = Clock::now();
    Reap(now);
    std::vector<std::function<void(const ReloadOutcome&)>> requests;
    {
      std::lock_guard lock(mu_);
      requests.assign(reload_requests_.begin(), reload_requests_.end());
      reload_requests_.clear();
    }
    if (int n = reloads.load(); n != reloads_seen) {
      reloads_seen = n;
      spdlog::info("SIGHUP received: reloading the config");
      requests.emplace_back([](const ReloadOutcome&) {});
    }
    for (auto& done : requests) done(Reload());
    StartReady();

    bool all_done = true;
    for (const auto& r : Snapshot()) {
      all_done = all_done && (!r->pipeline || (r->started && r->pipeline->Done()));
    }
    if (all_done) return aborted;
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
      for (const auto& r : Snapshot()) {
        if (r->pipeline && r->started) r->pipeline->RequestStop();
      }
    }
    if (!aborted && (n >= 2 || now > deadline)) {
      aborted = true;
      spdlog::warn("stopping now without draining ({}); nothing unflushed was confirmed",
                   n >= 2 ? "second signal" : "shutdown_timeout passed");
      for (const auto& r : Snapshot()) {
        if (r->pipeline && r->started) r->pipeline->Abort();
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
  std::lock_guard lock(mu_);
  for (const auto& r : running_) {
    if (r->retiring) continue;  // a removed pipeline is unknown; a replacement is listed
    WaitService::Target t;
    t.pipeline = r->config->name;
    t.keep = r;
    if (!r->pipeline) {
      t.unavailable = "pipeline " + t.pipeline + " could not start: " + r->build_error;
    } else if ((t.waiters = r->pipeline->waiters()) == nullptr) {
      const PluginConfig* source = config_.FindSource(r->config->source);
      t.unavailable = "pipeline " + t.pipeline + " reads a " + (source ? source->type : "") +
                      " source, whose positions are not commit LSNs; /wait needs a source "
                      "that has them (postgres)";
      t.unavailable_status = 400;
    }
    targets.push_back(std::move(t));
  }
  return targets;
}

int Daemon::Run(const std::atomic<int>& signals, const std::atomic<int>& reloads) {
  dead_letters_ = std::make_unique<FileDeadLetters>(config_.state_dir + "/dead_letters");
  for (const PipelineConfig& pc : config_.pipelines) {
    auto r = Build(config_, pc);
    std::lock_guard lock(mu_);
    running_.push_back(std::move(r));
  }
  waits_ = std::make_unique<WaitService>(WaitTargets(), config_.MaxWaiters(),
                                         MetricScope(&metrics_, {}));
  waits_->Start();
  HttpHandlers handlers;
  handlers.report = [this] { return Report(); };
  handlers.metrics = [this] { return MetricsText(); };
  handlers.history = [this](int64_t since) { return history_.Json(since); };
  handlers.wait = [this](const HttpRequest& request, HttpReply reply) {
    waits_->Handle(request, std::move(reply));
  };
  handlers.reload = [this](std::function<void(int, nlohmann::json)> answer) {
    RequestReload([answer = std::move(answer)](const ReloadOutcome& outcome) {
      answer(outcome.applied ? 200 : outcome.stopping ? 503 : 422, outcome.ToJson());
    });
  };
  HttpServer http({config_.http_listen, config_.http_token, config_.http_limits},
                  std::move(handlers), MetricScope(&metrics_, {}));
  if (Status s = http.Start(); !s.ok()) {
    spdlog::error("{}", s.message());
    return kExitFailure;
  }
  StartReady();
  bool aborted = Supervise(signals, reloads);
  bool failed = false;
  for (const auto& r : Snapshot()) {
    if (!r->pipeline || !r->pipeline->Wait().ok()) failed = true;
  }
  http.Stop();
  waits_->Stop();
  if (failed) return kExitFailure;
  return aborted ? kExitAborted : kExitOk;
}

}  // namespace sluice
