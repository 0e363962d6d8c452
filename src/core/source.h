// Source: the interface every source connector implements (postgres, kafka, ...).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/metrics.h"
#include "core/options.h"
#include "core/source_durability.h"
#include "core/status.h"

namespace sluice {

class StateStore;
class SourceScan;
class ChangePool;

// Where a source hands its batches. Implemented by the pipeline.
class BatchEmitter {
 public:
  virtual ~BatchEmitter() = default;
  // Hands `batch` to the pipeline. While the pipeline is full this blocks (backpressure),
  // calling `while_waiting` about every 100 ms so the source can keep its connection alive
  // (keepalives, status updates). Returns false when the pipeline is stopping; the batch is
  // then dropped, which loses nothing since nothing past it was confirmed.
  virtual bool Emit(Batch&& batch, const std::function<void()>& while_waiting) = 0;
  // Where the changes of applied batches go back for reuse (see ChangePool); null when the
  // emitter keeps none.
  virtual std::shared_ptr<ChangePool> change_pool() { return nullptr; }
};

// A table pattern from a pipe: schema or table may be "*".
struct TableSelector {
  std::string schema;
  std::string table;
  bool operator==(const TableSelector&) const = default;
};

// Where a source is in its life, for /readyz and /status.
enum class SourcePhase : uint8_t {
  kStarting,      // connecting, checking, creating its slot
  kSnapshot,      // reading the initial snapshot
  kStreaming,     // following the change stream
  kReconnecting,  // lost its connection; retrying with backoff
  kStopped,       // Run() returned
};
// "starting", "snapshot", "streaming", "reconnecting", "stopped".
const char* SourcePhaseName(SourcePhase phase);

// A source's phase and a one-line detail ("table 3 of 5", the last connection error).
// Shared by the source (writer, its own thread) and the pipeline's observers (any thread).
class SourceStatus {
 public:
  void Set(SourcePhase phase, std::string detail = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = phase;
    detail_ = std::move(detail);
  }
  SourcePhase phase() const {
    std::lock_guard<std::mutex> lock(mu_);
    return phase_;
  }
  std::string detail() const {
    std::lock_guard<std::mutex> lock(mu_);
    return detail_;
  }

  // The source's thread is making progress, or waiting normally (backoff, backpressure, an
  // idle stream). /healthz counts the source wedged when beats stop for long; a source
  // that never beats is never counted wedged.
  void Beat() {
    last_beat_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                        std::memory_order_relaxed);
  }
  // Time since the last Beat(); nullopt before the first.
  std::optional<std::chrono::nanoseconds> SinceBeat() const {
    int64_t last = last_beat_ns_.load(std::memory_order_relaxed);
    if (last == 0) return std::nullopt;
    return std::chrono::steady_clock::now().time_since_epoch() -
           std::chrono::steady_clock::duration(last);
  }

 private:
  mutable std::mutex mu_;
  SourcePhase phase_ = SourcePhase::kStarting;
  std::string detail_;
  std::atomic<int64_t> last_beat_ns_{0};  // steady-clock ticks; 0 before the first beat
};

// One table as a source delivers it: every column, in order, and the key columns.
struct TableSchema {
  TableId table;
  std::vector<std::string> columns;
  std::vector<std::string> key_columns;
  // Columns an update may carry as unchanged (TOAST) values instead of their value; empty
  // when the source always delivers whole rows.
  std::vector<std::string> may_be_unchanged;
};

struct SourceContext {
  std::string pipeline;               // pipeline name, unique in the config
  std::string source;                 // source name from the config ("shop")
  Options options;                    // validated against the plugin's option table
  std::vector<TableSelector> tables;  // what the pipeline reads
  StateStore* state = nullptr;        // this pipeline's state directory; outlives the source
  size_t batch_max_changes = 1000;    // batches close at this many changes...
  size_t batch_max_bytes = 1 << 20;   // ...or this many bytes
  MetricScope metrics;                // labelled {pipeline}
  // The source keeps it current; the pipeline's observers read it. Never null.
  std::shared_ptr<SourceStatus> status = std::make_shared<SourceStatus>();
  // What the source can say about durability that its checkpoints do not (for /wait).
  // Never null.
  std::shared_ptr<SourceDurability> durability = std::make_shared<SourceDurability>();
};

// Owned by its pipeline. Run() is called once, from the pipeline's source thread;
// Confirm() is called from sink threads and must be thread-safe.
class Source {
 public:
  virtual ~Source() = default;

  // Connects and checks that the source can serve the pipeline (server settings, tables,
  // keys, privileges) without creating anything. For `sluice check --connect`.
  virtual Status Check() = 0;

  // The tables the pipeline reads, as they are now, for `sluice check --connect` (sinks
  // check them against their own settings). NotFound when the source cannot tell.
  virtual Result<std::vector<TableSchema>> Describe() {
    return Status::NotFound("this source cannot list its tables' columns");
  }

  // A consistent read of the pipeline's tables at a fresh position, for `sluice verify`.
  // NotFound when the source cannot offer one (the default).
  virtual Result<std::unique_ptr<SourceScan>> OpenScan();

  // Reads until `stop` becomes true (returns Cancelled or Ok) or a fatal error.
  // Transient failures (lost connection) are retried inside; what comes back is final
  // for this pipeline.
  virtual Status Run(BatchEmitter& out, const std::atomic<bool>& stop) = 0;

  // Every batch up to the one that carried `checkpoint` is durable in every sink.
  // Checkpoints arrive in emission order; a later one subsumes the earlier ones.
  virtual void Confirm(const Checkpoint& checkpoint) = 0;

  // Called once after Run() returned and every sink has drained and flushed: the last
  // chance to hand the final confirmed position to the server before closing.
  virtual void Shutdown() {}
};

}  // namespace sluice
