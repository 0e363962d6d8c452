// SnapshotWorkers: reads key ranges with COPY over several connections that share one
// snapshot, and hands their batches to a single consumer (the source thread, the only one
// that may emit) through a queue bounded in batches and bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/pg_conn.h"
#include "connectors/postgres/snapshot_reader.h"
#include "core/bounded_queue.h"

namespace sluice::pg {

// While alive, the calling thread runs under SCHED_BATCH (Linux) if it ran under the
// default policy, and gets that back at the end. A snapshot is bulk work: a thread of this
// policy that wakes (as a reader does each time the server's COPY data arrives) waits for the
// next scheduling tick instead of preempting the thread on its CPU, which beside the database
// is the backend producing the rows, or another process of the database. Its share of CPU
// time is unchanged.
class BulkScheduling {
 public:
  BulkScheduling();
  ~BulkScheduling();
  BulkScheduling(const BulkScheduling&) = delete;
  BulkScheduling& operator=(const BulkScheduling&) = delete;

 private:
  bool changed_ = false;
};

// One key range to read.
struct RangeJob {
  const TableInfo* table = nullptr;  // outlives the workers
  size_t range = 0;
  std::string from;  // RangeFrom's
};

// A batch of one job's rows. The job's batches arrive in order; the one with `last` set
// (possibly empty) ends the range.
struct RangePiece {
  size_t job = 0;
  Batch batch;
  bool last = false;
};

// Owned by the source thread, which calls Next(); one worker thread per connection takes
// the jobs in order. Destruction (or the first error) stops the workers and waits for them.
class SnapshotWorkers {
 public:
  struct Params {
    const TypeOverrides* types = nullptr;  // outlives the workers
    std::string source;
    Lsn tag;
    SnapshotLimits limits;
  };
  SnapshotWorkers(std::vector<PgConn> conns, std::vector<RangeJob> jobs, Params params);
  ~SnapshotWorkers();
  SnapshotWorkers(const SnapshotWorkers&) = delete;
  SnapshotWorkers& operator=(const SnapshotWorkers&) = delete;

  // Starts one thread per connection.
  void Start();
  // Waits up to `timeout` for the next piece. Ok(nullopt) on timeout and once finished();
  // the first worker's error otherwise.
  Result<std::optional<RangePiece>> Next(std::chrono::milliseconds timeout);
  // Every job was read and every piece handed out.
  bool finished() const { return finished_; }
  const std::vector<RangeJob>& jobs() const { return jobs_; }

 private:
  void Work(size_t worker);
  bool Push(RangePiece&& piece);
  void Stop();

  std::vector<PgConn> conns_;
  const std::vector<RangeJob> jobs_;
  const Params params_;
  BoundedQueue<RangePiece> queue_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_job_{0};
  std::atomic<bool> cancel_{false};
  std::atomic<size_t> running_{0};
  bool finished_ = false;  // consumer thread
  std::mutex mu_;
  Status error_;  // guarded by mu_: the first worker error
};

}  // namespace sluice::pg
