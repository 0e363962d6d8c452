// Pipeline: one source, its transforms, and one or more sinks, each sink on its own thread
// behind a bounded queue. Batches flow source -> transforms -> every sink queue; sinks report
// durability to the CheckpointCoordinator, which confirms to the source.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/bounded_queue.h"
#include "core/change_pool.h"
#include "core/sink.h"
#include "core/source.h"
#include "runtime/checkpoint.h"
#include "runtime/commit_waiters.h"
#include "runtime/heartbeat.h"
#include "runtime/report.h"
#include "runtime/sink_metrics.h"
#include "runtime/transforms.h"

namespace sluice {

struct PipelineLimits {
  size_t queue_max_batches = 16;
  size_t queue_max_bytes = 64u << 20;
};

// Where a pipeline reports: metrics (labelled {pipeline}; default: a registry nobody
// renders) and the source's phase (null: a private one); what its source says about
// durability (null: nothing), and whether its checkpoints carry commit positions
// (SourcePlugin::commit_positions), without which it answers no wait.
struct PipelineTelemetry {
  MetricScope metrics;
  std::shared_ptr<SourceStatus> source_status;
  std::shared_ptr<SourceDurability> durability;
  bool commit_positions = false;
  std::function<Lsn(Lsn)> wait_reach;  // SourcePlugin::wait_reach
};

struct NamedSink {
  std::string name;
  std::unique_ptr<Sink> sink;
};

// Owned by the daemon. Start() once; RequestStop()/Abort()/Report() from any thread; Wait()
// from the owner. Destruction joins the threads (after Abort if still running).
class Pipeline : private BatchEmitter {
 public:
  Pipeline(std::string name, std::unique_ptr<Source> source, std::vector<NamedSink> sinks,
           std::vector<std::unique_ptr<Transform>> transforms, PipelineLimits limits,
           PipelineTelemetry telemetry = {});
  ~Pipeline() override;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  void Start();
  // Graceful: stop reading, let sinks drain and flush, confirm, then end.
  void RequestStop();
  // Immediate: stop retrying and end without flushing. Safe: nothing unflushed was confirmed.
  void Abort();
  bool Done() const { return done_; }
  // Blocks until every thread has ended. Ok after a clean stop; otherwise the first fatal error.
  Status Wait();

  // Phase, sinks, queues, lag and positions as they are now (metric-derived fields are
  // left for AddMetrics). Also refreshes the gauges it reports (queue depth, lag).
  PipelineReport Report();

  const std::string& name() const { return name_; }
  const CheckpointCoordinator& coordinator() const { return coordinator_; }
  // The readers waiting for a commit to be durable in its sinks (/wait); null when its
  // source's checkpoints carry no commit positions. Closed when the pipeline ends.
  CommitWaiters* waiters() { return telemetry_.commit_positions ? &waiters_ : nullptr; }
  uint64_t changes_applied() const { return changes_applied_; }

 private:
  struct SinkSlot {
    std::string name;
    std::unique_ptr<Sink> sink;
    BoundedQueue<BatchPtr> queue;
    std::thread thread;
    std::atomic<bool> failed{false};
    SinkMetrics metrics;
    Heartbeat beat;
    std::atomic<bool> up{true};
    std::mutex error_mu;
    std::string last_error;  // guarded by error_mu; set while down
    SinkSlot(std::string n, std::unique_ptr<Sink> s, const PipelineLimits& l,
             const MetricScope& scope)
        : name(std::move(n)),
          sink(std::move(s)),
          queue(l.queue_max_batches, l.queue_max_bytes),
          metrics(scope.With({{"sink", name}})) {}
  };

  bool Emit(Batch&& batch, const std::function<void()>& while_waiting) override;
  std::shared_ptr<ChangePool> change_pool() override { return change_pool_; }
  void Supervise();
  void RunSink(size_t index);
  // Calls `fn` until it stops answering Unavailable or the pipeline aborts.
  Status Retry(SinkSlot& slot, const char* what, const std::function<Status()>& fn);
  void SetUp(SinkSlot& slot, bool up, const std::string& error);
  void Fail(const Status& status);
  // Sleeps up to `d`, waking early on Abort(). False if aborted.
  bool SleepFor(std::chrono::milliseconds d);
  // Seconds since the commit of the oldest change emitted but not yet durable everywhere.
  double LagSeconds();
  SinkHealth HealthOf(size_t sink);
  // SourceDurability's listener, on the source's thread: every commit up to `position` is in
  // the batches emitted so far.
  void HandedOn(Lsn position);

  const std::string name_;
  std::unique_ptr<Source> source_;
  std::vector<std::unique_ptr<SinkSlot>> sinks_;
  std::vector<std::unique_ptr<Transform>> transforms_;
  CheckpointCoordinator coordinator_;
  const PipelineTelemetry telemetry_;
  CommitWaiters waiters_;
  // Spent batches' changes for the source to fill again: a few, of at most 4 MB each.
  const std::shared_ptr<ChangePool> change_pool_ = std::make_shared<ChangePool>(4, 4u << 20);
  Gauge& lag_seconds_;

  std::thread supervisor_;
  std::atomic<bool> stop_{false};   // read by the source: stop reading
  std::atomic<bool> abort_{false};  // stop retrying, do not flush
  std::atomic<bool> done_{false};
  std::atomic<bool> source_done_{false};  // Run() returned: no more batches will come
  std::atomic<uint64_t> changes_applied_{0};
  uint64_t next_batch_id_ = 0;  // source thread only

  // (batch id, oldest commit time in it) of emitted batches with streamed changes, until
  // every sink made them durable: what the lag is measured from.
  std::mutex lag_mu_;
  std::deque<std::pair<uint64_t, int64_t>> unapplied_commits_;

  std::mutex mu_;
  std::condition_variable wake_;
  Status first_error_;  // guarded by mu_
};

}  // namespace sluice
