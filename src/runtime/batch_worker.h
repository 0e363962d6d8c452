// BatchWorker<T>: one thread that answers requests needing the same costly value (a daemon
// report, the metrics text) in batches. It computes the value once for all the requests
// queued when it starts, then hands it to each; so N probes queued behind one slow
// computation cost one more computation, not N.
#pragma once

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace sluice {

// Owned by the HTTP server. Start() and Stop() from the owner's thread, Submit() from any.
// The queue is unbounded: its callers bound it (one request in flight per connection).
template <typename T>
class BatchWorker {
 public:
  using Answer = std::function<void(const T&)>;

  explicit BatchWorker(std::function<T()> compute) : compute_(std::move(compute)) {}
  ~BatchWorker() { Stop(); }
  BatchWorker(const BatchWorker&) = delete;
  BatchWorker& operator=(const BatchWorker&) = delete;

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  // `answer` runs on the worker's thread with a value computed after this call. Dropped
  // (destroyed unrun) once Stop() has begun.
  void Submit(Answer answer) {
    std::lock_guard lock(mu_);
    if (stop_) return;
    queue_.push_back(std::move(answer));
    cv_.notify_one();
  }

  // Finishes the batch in progress, drops the queued answers and joins. Idempotent.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    std::vector<Answer> dropped;
    std::lock_guard lock(mu_);
    dropped.swap(queue_);
  }

 private:
  void Run() {
    while (true) {
      std::vector<Answer> batch;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        batch.swap(queue_);
      }
      try {
        const T value = compute_();
        for (Answer& answer : batch) answer(value);
      } catch (const std::exception& e) {
        // The answers not given go with the batch: their requests get 500.
        spdlog::error("http: computing an answer failed: {}", e.what());
      }
    }
  }

  std::function<T()> compute_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Answer> queue_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sluice
