// Pipeline: one source, its transforms, and one or more sinks, each sink on its own thread
// behind a bounded queue. Batches flow source -> transforms -> every sink queue; sinks report
// durability to the CheckpointCoordinator, which confirms to the source.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/bounded_queue.h"
#include "core/sink.h"
#include "core/source.h"
#include "runtime/checkpoint.h"
#include "runtime/transforms.h"

namespace sluice {

struct PipelineLimits {
  size_t queue_max_batches = 16;
  size_t queue_max_bytes = 64u << 20;
};

struct NamedSink {
  std::string name;
  std::unique_ptr<Sink> sink;
};

// Owned by the daemon. Start() once; RequestStop()/Abort() from any thread; Wait() from the
// owner. Destruction joins the threads (after Abort if still running).
class Pipeline : private BatchEmitter {
 public:
  Pipeline(std::string name, std::unique_ptr<Source> source, std::vector<NamedSink> sinks,
           std::vector<std::unique_ptr<Transform>> transforms, PipelineLimits limits);
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

  const std::string& name() const { return name_; }
  const CheckpointCoordinator& coordinator() const { return coordinator_; }
  uint64_t changes_applied() const { return changes_applied_; }

 private:
  struct SinkSlot {
    std::string name;
    std::unique_ptr<Sink> sink;
    BoundedQueue<BatchPtr> queue;
    std::thread thread;
    std::atomic<bool> failed{false};
    SinkSlot(std::string n, std::unique_ptr<Sink> s, const PipelineLimits& l)
        : name(std::move(n)), sink(std::move(s)), queue(l.queue_max_batches, l.queue_max_bytes) {}
  };

  bool Emit(Batch&& batch, const std::function<void()>& while_waiting) override;
  void Supervise();
  void RunSink(size_t index);
  // Calls `fn` until it stops answering Unavailable or the pipeline aborts.
  Status Retry(SinkSlot& slot, const char* what, const std::function<Status()>& fn);
  void Fail(const Status& status);
  // Sleeps up to `d`, waking early on Abort(). False if aborted.
  bool SleepFor(std::chrono::milliseconds d);

  const std::string name_;
  std::unique_ptr<Source> source_;
  std::vector<std::unique_ptr<SinkSlot>> sinks_;
  std::vector<std::unique_ptr<Transform>> transforms_;
  CheckpointCoordinator coordinator_;

  std::thread supervisor_;
  std::atomic<bool> stop_{false};   // read by the source: stop reading
  std::atomic<bool> abort_{false};  // stop retrying, do not flush
  std::atomic<bool> done_{false};
  std::atomic<bool> source_done_{false};  // Run() returned: no more batches will come
  std::atomic<uint64_t> changes_applied_{0};
  uint64_t next_batch_id_ = 0;  // source thread only

  std::mutex mu_;
  std::condition_variable wake_;
  Status first_error_;  // guarded by mu_
};

}  // namespace sluice
