#include "runtime/wait_service.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/options.h"

namespace sluice {

namespace {

using Clock = CommitWaiters::Clock;

// The timer looks at least this often, so abandoned waits are dropped (CommitWaiters::Expire).
constexpr std::chrono::seconds kTimerTick(1);

HttpResponse Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

HttpResponse Error(int status, const std::string& message) {
  return Json(status, {{"error", message}});
}

Counter& WaitsTotal(const MetricScope& metrics, const char* result) {
  return metrics.GetCounter("sluice_waits_total",
                            "/wait requests by how they ended: durable, timed_out, closed (the "
                            "pipeline stopped), refused (max_waiters)",
                            {{"result", result}});
}

std::string Millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// The answer to one wait. Counts itself in the service's open waits for its whole life.
class HttpWaitTicket : public WaitTicket {
 public:
  HttpWaitTicket(HttpReply reply, const CommitWaiters& waiters, std::string pipeline, Lsn lsn,
                 SinkSet sinks, std::chrono::milliseconds timeout,
                 std::shared_ptr<WaitService::Stats> stats)
      : reply_(std::move(reply)),
        waiters_(waiters),
        pipeline_(std::move(pipeline)),
        lsn_(lsn),
        sinks_(sinks),
        timeout_(timeout),
        since_(Clock::now()),
        stats_(std::move(stats)) {
    stats_->open_gauge.Set(static_cast<double>(stats_->open.fetch_add(1) + 1));
  }
  ~HttpWaitTicket() override {
    stats_->open_gauge.Set(static_cast<double>(stats_->open.fetch_sub(1) - 1));
  }

  bool Abandoned() const override { return reply_.Cancelled(); }

  void Finish(const WaitEnd& end) override {
    const auto waited_for = Clock::now() - since_;
    auto waited = std::chrono::duration<double, std::milli>(waited_for).count();
    nlohmann::json body = {{"pipeline", pipeline_},
                           {"lsn", lsn_.ToString()},
                           {"durable", end.kind == WaitEnd::Kind::kDurable},
                           {"waited_ms", std::round(waited * 10) / 10}};
    nlohmann::json sinks = nlohmann::json::array();
    std::string behind;  // the sinks that had not made lsn_ durable, for the reason
    for (size_t i = 0; i < waiters_.sinks().size() && i < end.positions.size(); ++i) {
      if ((sinks_ & (SinkSet{1} << i)) == 0) continue;
      nlohmann::json s = {{"name", waiters_.sinks()[i]},
                          {"durable_lsn", end.positions[i].ToString()}};
      if (i < end.sinks.size()) {
        s["up"] = end.sinks[i].up;
        if (!end.sinks[i].last_error.empty()) s["last_error"] = end.sinks[i].last_error;
      }
      if (end.positions[i] < lsn_) {
        behind += std::string(behind.empty() ? "" : "; ") + "sink " + waiters_.sinks()[i] +
                  " has made changes up to " + end.positions[i].ToString() + " durable";
        if (i < end.sinks.size() && !end.sinks[i].up) {
          behind += " and is down: " + end.sinks[i].last_error;
        }
      }
      sinks.push_back(std::move(s));
    }
    body["sinks"] = std::move(sinks);
    switch (end.kind) {
      case WaitEnd::Kind::kDurable:
        stats_->durable.Add();
        stats_->durable_seconds.Observe(std::chrono::duration<double>(waited_for).count());
        return reply_.Send(Json(200, body));
      case WaitEnd::Kind::kTimedOut:
        stats_->timed_out.Add();
        body["error"] = "timed out after " + Millis(timeout_) + " waiting for " + lsn_.ToString() +
                        " in pipeline " + pipeline_ + ": " + behind;
        return reply_.Send(Json(408, body));
      case WaitEnd::Kind::kClosed:
        stats_->closed.Add();
        body["error"] = "pipeline " + pipeline_ + " stopped before " + lsn_.ToString() +
                        " was durable" +
                        (end.closed_because.empty() ? "" : ": " + end.closed_because);
        return reply_.Send(Json(503, body));
    }
  }

 private:
  HttpReply reply_;
  const CommitWaiters& waiters_;
  std::string pipeline_;
  Lsn lsn_;
  SinkSet sinks_;
  std::chrono::milliseconds timeout_;
  Clock::time_point since_;
  std::shared_ptr<WaitService::Stats> stats_;
};

}  // namespace

Result<WaitQuery> ParseWaitQuery(std::string_view query) {
  WaitQuery q;
  bool has_lsn = false;
  for (auto& [key, value] : ParseQuery(query)) {
    if (key == "pipeline") {
      q.pipeline = value;
    } else if (key == "lsn") {
      std::optional<Lsn> lsn = Lsn::Parse(value);
      if (!lsn) {
        return Status::InvalidArgument("lsn '" + value +
                                       "' is not an LSN such as 16/B374D848 (hex X/Y)");
      }
      q.lsn = *lsn;
      has_lsn = true;
    } else if (key == "sink") {
      for (const std::string& s : SplitList(value)) q.sinks.push_back(s);
    } else if (key == "timeout") {
      std::optional<std::chrono::milliseconds> d = ParseDuration(value);
      if (!d || d->count() <= 0 || *d > kMaxWaitTimeout) {
        return Status::InvalidArgument("timeout '" + value +
                                       "' is not a duration between 1ms and 5m such as 5s");
      }
      q.timeout = *d;
    } else {
      return Status::InvalidArgument("unknown parameter '" + key +
                                     "' (known: pipeline, lsn, sink, timeout)");
    }
  }
  if (q.pipeline.empty()) return Status::InvalidArgument("pipeline=NAME is missing");
  if (!has_lsn) return Status::InvalidArgument("lsn=X/Y is missing");
  return q;
}

WaitService::Stats::Stats(const MetricScope& metrics)
    : open_gauge(metrics.GetGauge("sluice_waits_open", "/wait requests waiting now")),
      durable(WaitsTotal(metrics, "durable")),
      timed_out(WaitsTotal(metrics, "timed_out")),
      closed(WaitsTotal(metrics, "closed")),
      refused(WaitsTotal(metrics, "refused")),
      durable_seconds(metrics.GetHistogram("sluice_wait_seconds",
                                           "How long /wait requests answered durable waited", {},
                                           LatencyBuckets())) {}

WaitService::WaitService(std::vector<Target> targets, size_t max_waiters, MetricScope metrics)
    : targets_(std::make_shared<const std::vector<Target>>(std::move(targets))),
      max_waiters_(max_waiters),
      stats_(std::make_shared<Stats>(metrics)) {}

WaitService::~WaitService() { Stop(); }

void WaitService::SetTargets(std::vector<Target> targets) {
  auto next = std::make_shared<const std::vector<Target>>(std::move(targets));
  std::lock_guard lock(targets_mu_);
  targets_.swap(next);
}

WaitService::Targets WaitService::CurrentTargets() {
  std::lock_guard lock(targets_mu_);
  return targets_;
}

void WaitService::Start() {
  timer_ = std::thread([this] { RunTimer(); });
}

void WaitService::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    wake_.notify_one();
  }
  if (timer_.joinable()) timer_.join();
}

void WaitService::Handle(const HttpRequest& request, HttpReply reply) {
  Result<WaitQuery> q = ParseWaitQuery(request.query);
  if (!q.ok()) return reply.Send(Error(400, q.status().message()));
  const Targets targets = CurrentTargets();
  const Target* target = nullptr;
  for (const Target& t : *targets) {
    if (t.pipeline == q->pipeline) target = &t;
  }
  if (target == nullptr) return reply.Send(Error(404, "no pipeline named " + q->pipeline));
  if (target->waiters == nullptr) {
    return reply.Send(Error(target->unavailable_status, target->unavailable));
  }
  CommitWaiters& waiters = *target->waiters;
  SinkSet sinks = q->sinks.empty() ? waiters.AllSinks() : 0;
  for (const std::string& name : q->sinks) {
    int i = waiters.SinkIndex(name);
    if (i < 0) {
      return reply.Send(Error(400, "pipeline " + q->pipeline + " has no sink " + name));
    }
    sinks |= SinkSet{1} << i;
  }
  if (stats_->open.load() >= max_waiters_) {
    stats_->refused.Add();
    HttpResponse r = Error(503, std::to_string(max_waiters_) +
                                    " waits are open (http.max_waiters); try again shortly");
    r.headers.emplace_back("Retry-After", "1");
    return reply.Send(std::move(r));
  }
  const auto deadline = Clock::now() + q->timeout;
  waiters.Add(q->lsn, sinks, deadline,
              std::make_unique<HttpWaitTicket>(std::move(reply), waiters, q->pipeline, q->lsn,
                                               sinks, q->timeout, stats_));
  std::lock_guard lock(mu_);
  if (deadline < timer_at_) {
    look_again_ = true;
    wake_.notify_one();
  }
}

void WaitService::RunTimer() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    timer_at_ = Clock::time_point::max();  // a wait added while this looks asks for another look
    lock.unlock();
    const auto now = Clock::now();
    Clock::time_point next = now + kTimerTick;
    const Targets targets = CurrentTargets();
    for (const Target& t : *targets) {
      if (t.waiters == nullptr) continue;
      t.waiters->Expire(now);
      next = std::min(next, t.waiters->NextDeadline());
    }
    lock.lock();
    if (std::exchange(look_again_, false)) continue;
    timer_at_ = next;
    wake_.wait_until(lock, next, [&] { return stop_ || look_again_; });
    look_again_ = false;
  }
}

}  // namespace sluice
