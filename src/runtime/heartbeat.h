// Heartbeat: lets a watchdog tell a thread that is busy or idle-waiting normally from one
// stuck inside a single call (a sink request that never returns). /healthz reads it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice {

// Written by one worker thread, read by any. Enter()/Leave() bracket each call into code
// that may block on the outside world; between them the thread counts as "in a call".
class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;

  // `what` must be a string literal (kept by pointer).
  void Enter(const char* what) {
    what_.store(what, std::memory_order_relaxed);
    since_ns_.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
  }
  void Leave() { since_ns_.store(0, std::memory_order_release); }

  // The call the thread is inside and for how long; nullptr when it is not inside one.
  const char* InCall(Clock::time_point now, std::chrono::nanoseconds* for_how_long) const {
    int64_t since = since_ns_.load(std::memory_order_acquire);
    if (since == 0) return nullptr;
    *for_how_long = now.time_since_epoch() - Clock::duration(since);
    return what_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<const char*> what_{""};
  std::atomic<int64_t> since_ns_{0};  // steady-clock ticks at Enter(); 0 outside a call
};

// Enters on construction, leaves on destruction.
class HeartbeatCall {
 public:
  HeartbeatCall(Heartbeat& beat, const char* what) : beat_(beat) { beat_.Enter(what); }
  ~HeartbeatCall() { beat_.Leave(); }
  HeartbeatCall(const HeartbeatCall&) = delete;
  HeartbeatCall& operator=(const HeartbeatCall&) = delete;

 private:
  Heartbeat& beat_;
};

}  // namespace sluice
