// Backoff: capped exponential delays with jitter for retrying transient failures.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace sluice {

// Not thread-safe; one per retry loop.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), next_(initial) {}

  // The delay before the next attempt: grows x2 per call up to `max`, with "equal jitter"
  // (half fixed, half random) so that many clients do not retry in lockstep.
  std::chrono::milliseconds Next() {
    // Seeded on the first delay, not on construction: the pipeline makes a Backoff for
    // every sink call, and nearly every call succeeds at once.
    if (!seeded_) {
      rng_.seed(std::random_device{}());
      seeded_ = true;
    }
    auto base = next_;
    next_ = std::min(max_, next_ * 2);
    auto half = base.count() / 2;
    std::uniform_int_distribution<int64_t> dist(0, half > 0 ? half : 0);
    ++attempts_;
    return std::chrono::milliseconds(base.count() - half + dist(rng_));
  }
  void Reset() {
    next_ = initial_;
    attempts_ = 0;
  }
  uint64_t attempts() const { return attempts_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds next_;
  uint64_t attempts_ = 0;
  bool seeded_ = false;
  std::mt19937_64 rng_{0};  // seeded by the first Next()
};

}  // namespace sluice
