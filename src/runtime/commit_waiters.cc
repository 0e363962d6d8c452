#include "runtime/commit_waiters.h"

#include <algorithm>

namespace sluice {

namespace {
// How often Expire() looks through every waiter for abandoned ones.
constexpr std::chrono::seconds kSweepInterval(1);
}  // namespace

CommitWaiters::CommitWaiters(std::vector<std::string> sinks,
                             std::function<SinkHealth(size_t)> health,
                             std::function<Lsn(Lsn)> reach)
    : sinks_(std::move(sinks)),
      health_(std::move(health)),
      reach_(std::move(reach)),
      durable_(sinks_.size()) {}

CommitWaiters::~CommitWaiters() = default;

int CommitWaiters::SinkIndex(const std::string& name) const {
  for (size_t i = 0; i < sinks_.size() && i < kMaxWaitSinks; ++i) {
    if (sinks_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

SinkSet CommitWaiters::AllSinks() const {
  size_t n = std::min(sinks_.size(), kMaxWaitSinks);
  return n == kMaxWaitSinks ? ~SinkSet{0} : (SinkSet{1} << n) - 1;
}

void CommitWaiters::SinkDurable(size_t sink, Lsn position) {
  Finished done;
  {
    std::lock_guard lock(mu_);
    if (sink >= durable_.size() || position <= durable_[sink]) return;
    durable_[sink] = position;
    CollectDurableLocked(&done);
  }
  FinishAll(std::move(done));
}

Lsn CommitWaiters::Position(size_t sink) const {
  std::lock_guard lock(mu_);
  return sink < durable_.size() ? durable_[sink] : Lsn();
}

Lsn CommitWaiters::MinReachLocked(SinkSet sinks) const {
  Lsn min;
  bool first = true;
  for (size_t i = 0; i < durable_.size() && i < kMaxWaitSinks; ++i) {
    if ((sinks & (SinkSet{1} << i)) == 0) continue;
    if (first || durable_[i] < min) min = durable_[i];
    first = false;
  }
  // Nothing durable yet reaches nothing: only a position something confirmed is widened.
  return reach_ && min.valid() ? reach_(min) : min;
}

std::vector<Lsn> CommitWaiters::PositionsLocked() const { return durable_; }

void CommitWaiters::CollectDurableLocked(Finished* done) {
  for (auto set = by_lsn_.begin(); set != by_lsn_.end();) {
    const Lsn reached = MinReachLocked(set->first);
    auto& queue = set->second;
    while (!queue.empty() && queue.begin()->first <= reached) {
      RemoveLocked(waiters_.find(queue.begin()->second), done, WaitEnd::Kind::kDurable);
    }
    set = queue.empty() ? by_lsn_.erase(set) : std::next(set);
  }
}

void CommitWaiters::RemoveLocked(std::map<uint64_t, Waiter>::iterator it, Finished* done,
                                 WaitEnd::Kind kind) {
  Waiter& w = it->second;
  auto set = by_lsn_.find(w.sinks);
  set->second.erase(w.in_set);
  by_deadline_.erase({w.deadline, it->first});
  if (done) done->emplace_back(std::move(w.ticket), kind);
  waiters_.erase(it);
}

void CommitWaiters::PruneLocked() {
  for (auto set = by_lsn_.begin(); set != by_lsn_.end();) {
    set = set->second.empty() ? by_lsn_.erase(set) : std::next(set);
  }
}

void CommitWaiters::FinishAll(Finished done) {
  if (done.empty()) return;
  WaitEnd end;
  bool timed_out = false;
  {
    std::lock_guard lock(mu_);
    end.positions = PositionsLocked();
    end.closed_because = closed_because_;
  }
  for (const auto& d : done) timed_out = timed_out || d.second == WaitEnd::Kind::kTimedOut;
  if (timed_out && health_) {
    for (size_t i = 0; i < sinks_.size(); ++i) end.sinks.push_back(health_(i));
  }
  for (auto& [ticket, kind] : done) {
    end.kind = kind;
    ticket->Finish(end);
  }
}

void CommitWaiters::Add(Lsn lsn, SinkSet sinks, Clock::time_point deadline,
                        std::unique_ptr<WaitTicket> ticket) {
  Finished done;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      done.emplace_back(std::move(ticket), WaitEnd::Kind::kClosed);
    } else if (lsn <= MinReachLocked(sinks)) {
      done.emplace_back(std::move(ticket), WaitEnd::Kind::kDurable);
    } else {
      uint64_t id = next_id_++;
      Waiter& w = waiters_[id];
      w.lsn = lsn;
      w.sinks = sinks;
      w.deadline = deadline;
      w.ticket = std::move(ticket);
      w.in_set = by_lsn_[sinks].emplace(lsn, id);
      by_deadline_.emplace(deadline, id);
    }
  }
  FinishAll(std::move(done));
}

void CommitWaiters::Expire(Clock::time_point now) {
  Finished done;
  {
    std::lock_guard lock(mu_);
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
      RemoveLocked(waiters_.find(by_deadline_.begin()->second), &done, WaitEnd::Kind::kTimedOut);
    }
    if (now - last_sweep_ >= kSweepInterval) {
      last_sweep_ = now;
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        auto next = std::next(it);
        if (it->second.ticket->Abandoned()) RemoveLocked(it, nullptr, WaitEnd::Kind::kClosed);
        it = next;
      }
    }
    PruneLocked();
  }
  FinishAll(std::move(done));
}

CommitWaiters::Clock::time_point CommitWaiters::NextDeadline() const {
  std::lock_guard lock(mu_);
  return by_deadline_.empty() ? Clock::time_point::max() : by_deadline_.begin()->first;
}

size_t CommitWaiters::waiting() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

void CommitWaiters::Close(const std::string& why) {
  Finished done;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    closed_because_ = why;
    while (!waiters_.empty()) RemoveLocked(waiters_.begin(), &done, WaitEnd::Kind::kClosed);
    PruneLocked();
  }
  FinishAll(std::move(done));
}

}  // namespace sluice
