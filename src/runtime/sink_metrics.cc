#include "runtime/sink_metrics.h"

#include <chrono>

namespace sluice {

namespace {

Counter* ChangesByOp(const MetricScope& scope, Op op) {
  return &scope.GetCounter("sluice_changes_total", "Changes made durable in the sink, by operation",
                           {{"op", OpName(op)}});
}

}  // namespace

SinkMetrics::SinkMetrics(const MetricScope& scope)
    : changes{ChangesByOp(scope, Op::kRead), ChangesByOp(scope, Op::kInsert),
              ChangesByOp(scope, Op::kUpdate), ChangesByOp(scope, Op::kDelete),
              ChangesByOp(scope, Op::kTruncate)},
      batches(scope.GetCounter("sluice_batches_total", "Batches made durable in the sink")),
      bytes(scope.GetCounter("sluice_bytes_total",
                             "Approximate bytes of the changes made durable in the sink")),
      retries(scope.GetCounter("sluice_pipeline_retries_total",
                               "Sink calls the pipeline retried after an Unavailable answer")),
      queue_batches(
          scope.GetGauge("sluice_queue_depth_batches", "Batches waiting in the sink's queue")),
      queue_bytes(scope.GetGauge("sluice_queue_depth_bytes",
                                 "Bytes of batches waiting in the sink's queue")),
      up(scope.GetGauge("sluice_sink_up", "1 while the sink answers, 0 while it is being retried")),
      apply_latency(scope.GetHistogram(
          "sluice_apply_latency_seconds",
          "Time from a change's commit in the source to its flush in the sink")) {
  up.Set(1);
}

void Unflushed::Add(const Batch& batch) {
  for (const Change& c : batch.changes) {
    ++by_op_[static_cast<size_t>(c.op)];
    if (c.op == Op::kRead || c.commit_time_us <= 0) continue;
    if (!commit_us_.empty() && commit_us_.back().first == c.commit_time_us) {
      ++commit_us_.back().second;
    } else {
      commit_us_.emplace_back(c.commit_time_us, 1);
    }
  }
  ++batches_;
  bytes_ += batch.bytes;
}

void Unflushed::Flushed(SinkMetrics& metrics, int64_t now_us) {
  // Latencies first: a scrape that sees the change counters also sees their latencies.
  for (auto [commit, count] : commit_us_) {
    double seconds = static_cast<double>(now_us - commit) / 1e6;
    metrics.apply_latency.Observe(seconds < 0 ? 0 : seconds, count);
  }
  metrics.batches.Add(batches_);
  metrics.bytes.Add(bytes_);
  for (size_t i = 0; i < by_op_.size(); ++i) {
    if (by_op_[i] > 0) metrics.changes[i]->Add(by_op_[i]);
  }
  by_op_.fill(0);
  batches_ = 0;
  bytes_ = 0;
  commit_us_.clear();
}

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace sluice
