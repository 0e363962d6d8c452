#include "connectors/postgres/snapshot_workers.h"

#include <sched.h>

namespace sluice::pg {

using std::chrono::milliseconds;

BulkScheduling::BulkScheduling() {
#ifdef SCHED_BATCH
  // 0: the calling thread (Linux applies scheduling policies per thread).
  sched_param param{};
  changed_ =
      sched_getscheduler(0) == SCHED_OTHER && sched_setscheduler(0, SCHED_BATCH, &param) == 0;
#endif
}

BulkScheduling::~BulkScheduling() {
#ifdef SCHED_BATCH
  sched_param param{};
  if (changed_) sched_setscheduler(0, SCHED_OTHER, &param);
#endif
}

SnapshotWorkers::SnapshotWorkers(std::vector<PgConn> conns, std::vector<RangeJob> jobs,
                                 Params params)
    : conns_(std::move(conns)),
      jobs_(std::move(jobs)),
      params_(std::move(params)),
      // Two batches per reader keep every reader busy while the consumer emits; the byte
      // budget is what bounds memory whatever the batch size.
      queue_(2 * conns_.size(), 2 * conns_.size() * params_.limits.batch_max_bytes) {
  if (params_.limits.pool) params_.limits.pool->Want(true);
}

SnapshotWorkers::~SnapshotWorkers() {
  Stop();
  if (params_.limits.pool) params_.limits.pool->Want(false);
}

void SnapshotWorkers::Start() {
  running_ = conns_.size();
  for (size_t i = 0; i < conns_.size(); ++i) threads_.emplace_back([this, i] { Work(i); });
}

void SnapshotWorkers::Stop() {
  cancel_ = true;
  queue_.Close();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool SnapshotWorkers::Push(RangePiece&& piece) {
  size_t bytes = piece.batch.bytes;
  while (!queue_.Push(piece, bytes, milliseconds(100))) {
    if (cancel_) return false;
  }
  return true;
}

void SnapshotWorkers::Work(size_t worker) {
  BulkScheduling bulk;
  PgConn& conn = conns_[worker];
  while (!cancel_) {
    size_t job = next_job_.fetch_add(1);
    if (job >= jobs_.size()) break;
    const RangeJob& j = jobs_[job];
    auto emit = [&](Batch&& b, bool last) { return Push(RangePiece{job, std::move(b), last}); };
    Status s = CopyRange(conn, *j.table, *params_.types, params_.source, j.from, params_.tag,
                         params_.limits, emit);
    if (!s.ok()) {
      if (s.code() != StatusCode::kCancelled) {
        std::lock_guard lock(mu_);
        if (error_.ok()) error_ = s;
        cancel_ = true;
      }
      break;
    }
  }
  // The last reader to stop wakes the consumer at once instead of at its next timeout.
  if (running_.fetch_sub(1) == 1) queue_.Close();
}

Result<std::optional<RangePiece>> SnapshotWorkers::Next(milliseconds timeout) {
  if (finished_) return std::optional<RangePiece>();
  {
    std::lock_guard lock(mu_);
    if (!error_.ok()) return error_;
  }
  // A worker pushes its last piece before it stops counting as running, so once none runs,
  // what the queue holds is all there is.
  bool none_running = running_.load() == 0;
  auto piece = queue_.Pop(none_running ? milliseconds(0) : timeout);
  if (piece) return std::optional<RangePiece>(std::move(*piece));
  if (none_running) {
    std::lock_guard lock(mu_);
    if (!error_.ok()) return error_;
    finished_ = true;
  }
  return std::optional<RangePiece>();
}

}  // namespace sluice::pg
