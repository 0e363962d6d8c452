// SinkMetrics: the metrics a pipeline keeps for each of its sinks, and Unflushed, what a
// sink thread has written since its last flush -- counted only once the flush made it
// durable, so the counters match what the sink holds.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/change.h"
#include "core/metrics.h"

namespace sluice {

// References into the daemon's registry, looked up once. Thread-safe (atomics).
struct SinkMetrics {
  // `scope` is labelled {pipeline, sink}.
  explicit SinkMetrics(const MetricScope& scope);

  std::array<Counter*, 5> changes;  // by Op
  Counter& batches;
  Counter& bytes;
  Counter& retries;
  Gauge& queue_batches;
  Gauge& queue_bytes;
  Gauge& up;
  Histogram& apply_latency;
};

// Owned by one sink thread.
class Unflushed {
 public:
  void Add(const Batch& batch);
  // The flush succeeded at `now_us` (microseconds since the Unix epoch): count everything
  // and observe each streamed change's latency from its commit. Then starts over.
  void Flushed(SinkMetrics& metrics, int64_t now_us);

 private:
  std::array<uint64_t, 5> by_op_{};
  uint64_t batches_ = 0;
  uint64_t bytes_ = 0;
  // (commit time, changes) of streamed changes, one entry per run of changes with the same
  // commit (a transaction's): snapshot rows have no commit.
  std::vector<std::pair<int64_t, uint64_t>> commit_us_;
};

// Microseconds since the Unix epoch, now.
int64_t NowUs();

}  // namespace sluice
