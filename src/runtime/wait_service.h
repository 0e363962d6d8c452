// WaitService: `GET /wait?pipeline=NAME&lsn=X/Y[&sink=S][&timeout=5s]` for the daemon's
// pipelines. It checks the request, registers the wait with the pipeline's CommitWaiters and
// answers through the HttpReply when the wait ends: 200 durable, 408 timed out (with the
// reason), 400 bad input, 404 unknown pipeline, 503 over the cap or pipeline stopped. No
// thread waits per request: one timer thread expires every pipeline's waits.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "runtime/commit_waiters.h"
#include "runtime/http_reply.h"
#include "runtime/http_request.h"

namespace sluice {

inline constexpr std::chrono::milliseconds kDefaultWaitTimeout{5000};
inline constexpr std::chrono::milliseconds kMaxWaitTimeout{300000};

// A /wait request's parameters, checked.
struct WaitQuery {
  std::string pipeline;
  Lsn lsn;
  std::vector<std::string> sinks;  // empty: every sink of the pipeline
  std::chrono::milliseconds timeout = kDefaultWaitTimeout;
};
// InvalidArgument naming the parameter that is missing, malformed, out of bounds or unknown.
Result<WaitQuery> ParseWaitQuery(std::string_view query);

// Owned by the daemon; outlives the HTTP server that calls Handle(). Start() and Stop() from
// the owner's thread; Handle() from the HTTP loop's.
class WaitService {
 public:
  struct Target {
    std::string pipeline;
    CommitWaiters* waiters = nullptr;  // null: `unavailable` says why
    std::string unavailable;
    int unavailable_status = 503;      // 400: it can never answer (its source has no commit LSNs)
    std::shared_ptr<const void> keep;  // keeps `waiters` alive while the service lists it
  };

  // How many waits are open and how they ended; shared with the tickets, which may
  // outlive the service inside their pipelines (the metrics registry outlives both).
  struct Stats {
    explicit Stats(const MetricScope& metrics);
    std::atomic<size_t> open{0};
    Gauge& open_gauge;
    Counter& durable;
    Counter& timed_out;
    Counter& closed;
    Counter& refused;
    Histogram& durable_seconds;
  };

  // `max_waiters`: waits open at once over every pipeline; beyond it, 503. `metrics` gets
  // sluice_waits_open, sluice_waits_total{result} and sluice_wait_seconds.
  WaitService(std::vector<Target> targets, size_t max_waiters, MetricScope metrics = {});
  ~WaitService();  // Stop()
  WaitService(const WaitService&) = delete;
  WaitService& operator=(const WaitService&) = delete;

  // Replaces what can be waited on (a reload added or removed pipelines). Waits already
  // registered stay with their pipelines. Any thread.
  void SetTargets(std::vector<Target> targets);

  void Start();
  // Joins the timer. Waits still open stay with their pipelines, which close them as they
  // stop. Idempotent.
  void Stop();

  // Answers at once (bad input, unknown pipeline, too many waiting, already durable) or
  // registers the wait. Never blocks.
  void Handle(const HttpRequest& request, HttpReply reply);

  // Waits open now, over every pipeline.
  size_t waiting() const { return stats_->open.load(); }

 private:
  using Targets = std::shared_ptr<const std::vector<Target>>;
  Targets CurrentTargets();
  void RunTimer();

  std::mutex targets_mu_;
  Targets targets_;  // guarded by targets_mu_; swapped whole
  const size_t max_waiters_;
  const std::shared_ptr<Stats> stats_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  // Guarded by mu_: when the timer looks next (max() while it is looking), and whether a wait
  // with an earlier deadline came since.
  CommitWaiters::Clock::time_point timer_at_ = CommitWaiters::Clock::time_point::max();
  bool look_again_ = false;
  std::thread timer_;
};

}  // namespace sluice
