// CommitWaiters: the readers of one pipeline that wait until a commit is durable in some of
// its sinks (/wait, read-your-writes). Waiters are ordered by LSN per set of sinks, so a new
// durable position answers exactly the waiters it satisfies, without looking at the others.
// docs/architecture.md, "Waiting for a commit", says what durable up to an LSN means.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/lsn.h"

namespace sluice {

// Bit i: the pipeline's sink i. A pipeline with more than 64 sinks answers waits for its
// first 64 only.
using SinkSet = uint64_t;
inline constexpr size_t kMaxWaitSinks = 64;

// How a sink is doing, for the answer to a wait that timed out.
struct SinkHealth {
  bool up = true;
  std::string last_error;  // why it is down (redacted); empty while up
};

// How a wait ended.
struct WaitEnd {
  enum class Kind {
    kDurable,   // every sink of the set has made the LSN durable
    kTimedOut,  // its deadline passed first
    kClosed,    // the pipeline stopped (or the daemon is stopping)
  };
  Kind kind = Kind::kDurable;
  std::vector<Lsn> positions;     // per sink of the pipeline: what it has made durable
  std::vector<SinkHealth> sinks;  // per sink, filled for kTimedOut only
  std::string closed_because;     // for kClosed
};

// One waiting reader: how to answer it. Owned by CommitWaiters from Add() until Finish().
class WaitTicket {
 public:
  virtual ~WaitTicket() = default;
  // Called exactly once, outside CommitWaiters' lock, from the thread that ended the wait.
  virtual void Finish(const WaitEnd& end) = 0;
  // Nobody would read the answer any more (the client hung up): the wait may be dropped
  // early, without Finish().
  virtual bool Abandoned() const { return false; }
};

// Owned by its pipeline, which feeds it the sinks' durable positions. Thread-safe: sink
// threads, the source's thread, the HTTP loop and the wait timer all call it.
class CommitWaiters {
 public:
  using Clock = std::chrono::steady_clock;

  // `health` (may be empty) says how sink i is doing, for the answers of timed-out waits;
  // called outside the lock. `reach` (may be empty): SourcePlugin::wait_reach, the highest
  // LSN a durable position answers.
  CommitWaiters(std::vector<std::string> sinks, std::function<SinkHealth(size_t)> health = {},
                std::function<Lsn(Lsn)> reach = {});
  ~CommitWaiters();  // drops waiters left without answering them (Close() answers them)
  CommitWaiters(const CommitWaiters&) = delete;
  CommitWaiters& operator=(const CommitWaiters&) = delete;

  const std::vector<std::string>& sinks() const { return sinks_; }
  // The index of sink `name`, or -1.
  int SinkIndex(const std::string& name) const;
  SinkSet AllSinks() const;

  // Sink `sink` has made every commit ending at or below `position` durable. Positions
  // never go back: a lower one than before is ignored.
  void SinkDurable(size_t sink, Lsn position);
  // What sink `sink` has made durable.
  Lsn Position(size_t sink) const;

  // Waits until every sink in `sinks` (not empty) has made `lsn` durable, or `deadline`.
  // `ticket` is finished at once when that already holds or the waiters are closed.
  void Add(Lsn lsn, SinkSet sinks, Clock::time_point deadline, std::unique_ptr<WaitTicket> ticket);

  // Times out the waits whose deadline is at or before `now`, and drops abandoned ones
  // (looking for those at most once a second). For the wait timer.
  void Expire(Clock::time_point now);
  // The earliest deadline of a waiting reader; Clock::time_point::max() when none waits.
  Clock::time_point NextDeadline() const;
  size_t waiting() const;

  // Answers every waiter kClosed with `why`, and every later Add() too. Idempotent.
  void Close(const std::string& why);

 private:
  struct Waiter {
    Lsn lsn;
    SinkSet sinks = 0;
    Clock::time_point deadline;
    std::unique_ptr<WaitTicket> ticket;
    std::multimap<Lsn, uint64_t>::iterator in_set;
  };
  using Finished = std::vector<std::pair<std::unique_ptr<WaitTicket>, WaitEnd::Kind>>;

  // The highest LSN every sink in `sinks` has made durable, widened by reach_.
  Lsn MinReachLocked(SinkSet sinks) const;
  std::vector<Lsn> PositionsLocked() const;
  // Moves the waiters the positions now satisfy into `done`.
  void CollectDurableLocked(Finished* done);
  // Removes a waiter; its ticket goes to `done` (null: it is dropped unanswered). Leaves its
  // set's queue in by_lsn_ even when empty (PruneLocked removes those).
  void RemoveLocked(std::map<uint64_t, Waiter>::iterator it, Finished* done, WaitEnd::Kind kind);
  void PruneLocked();
  // Finishes `done` outside the lock.
  void FinishAll(Finished done);

  const std::vector<std::string> sinks_;
  const std::function<SinkHealth(size_t)> health_;
  const std::function<Lsn(Lsn)> reach_;

  mutable std::mutex mu_;
  std::vector<Lsn> durable_;  // per sink
  uint64_t next_id_ = 1;
  std::map<uint64_t, Waiter> waiters_;  // by id
  // Per set of sinks, the waiters by the LSN they wait for.
  std::map<SinkSet, std::multimap<Lsn, uint64_t>> by_lsn_;
  std::set<std::pair<Clock::time_point, uint64_t>> by_deadline_;
  Clock::time_point last_sweep_{};
  bool closed_ = false;
  std::string closed_because_;
};

}  // namespace sluice
