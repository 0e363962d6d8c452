// PostgresSource, snapshot half: splitting the tables into key ranges, reading the ranges
// not yet durable over several connections in one exported snapshot, recording each range
// once every sink has it, and reporting progress.
#include <spdlog/spdlog.h>

#include "connectors/postgres/postgres_source.h"
#include "connectors/postgres/snapshot_plan.h"

namespace sluice::pg {

using std::chrono::milliseconds;

namespace {
constexpr auto kProgressLogInterval = std::chrono::seconds(5);
}  // namespace

Status PostgresSource::Snapshot(PgConn& meta, const std::string& snapshot_name, Lsn tag,
                                BatchEmitter& out, const std::atomic<bool>& stop) {
  auto run = StartSnapshot(meta, snapshot_name, tag, out.change_pool());
  if (!run.ok()) return run.status();
  if (!*run) return Status::Ok();
  BulkScheduling bulk;  // this thread emits the snapshot; the stream gets its policy back
  while (!(*run)->workers->finished()) {
    if (stop) return Status::Cancelled("stopping during snapshot");
    ctx_.status->Beat();
    auto pumped = PumpSnapshot(**run, meta, out, milliseconds(200), nullptr);
    if (!pumped.ok()) return pumped.status();
  }
  return Status::Ok();
}

Result<std::unique_ptr<PostgresSource::SnapshotRun>> PostgresSource::StartSnapshot(
    PgConn& meta, const std::string& snapshot_name, Lsn tag, std::shared_ptr<ChangePool> pool) {
  std::vector<const TableInfo*> todo = TablesToSnapshot();
  if (todo.empty()) return std::unique_ptr<SnapshotRun>();
  std::string name = snapshot_name;
  if (name.empty()) {
    // Finishing a snapshot after a restart, or a table added since: rows read now are newer
    // than `tag`, the slot's confirmed position; the stream replays everything after `tag`,
    // so each row still ends at its latest state (docs/architecture.md, "Finishing a
    // snapshot after a crash").
    auto begin = meta.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!begin.ok()) return begin.status();
    auto r = meta.Exec("SELECT pg_export_snapshot()");
    if (!r.ok()) return r.status();
    name = GetText(r->get(), 0, 0);
  }
  auto conns = pending_conns_.Take(options_.dsn, ReadersFor(todo));
  if (!conns.ok()) return conns.status();
  for (PgConn& c : *conns) SLUICE_RETURN_IF_ERROR(ImportSnapshot(c, name));
  SLUICE_RETURN_IF_ERROR(PlanTables(conns->front(), todo));
  auto run = std::make_unique<SnapshotRun>();
  run->tag = tag;
  std::vector<RangeJob> jobs = SnapshotJobs(conns->front(), todo, &run->progress);
  size_t readers = std::min<size_t>(static_cast<size_t>(options_.snapshot_parallelism),
                                    std::max<size_t>(jobs.size(), 1));
  if (readers < conns->size())
    conns->erase(conns->begin() + static_cast<ptrdiff_t>(readers), conns->end());
  if (readers > conns->size()) {  // more ranges than the estimates promised
    auto more = pending_conns_.Take(options_.dsn, readers - conns->size());
    if (!more.ok()) return more.status();
    for (PgConn& c : *more) {
      SLUICE_RETURN_IF_ERROR(ImportSnapshot(c, name));
      conns->push_back(std::move(c));
    }
  }
  if (snapshot_name.empty()) {
    // Every reader holds the snapshot now; the exporting transaction may end.
    auto commit = meta.Exec("COMMIT");
    if (!commit.ok()) return commit.status();
  }
  spdlog::info("pipeline {}: snapshot at {}: {} ranges of {} tables over {} connections",
               ctx_.pipeline, tag.ToString(), jobs.size(), todo.size(), conns->size());
  run->job_rows.assign(jobs.size(), 0);
  run->workers = std::make_unique<SnapshotWorkers>(
      std::move(conns).value(), std::move(jobs),
      SnapshotWorkers::Params{
          &types_, ctx_.source, tag,
          SnapshotLimits{ctx_.batch_max_changes, ctx_.batch_max_bytes, std::move(pool)}});
  run->workers->Start();
  run->last_log = std::chrono::steady_clock::now();
  ReportSnapshot(run->progress, true);
  return run;
}

std::vector<const TableInfo*> PostgresSource::TablesToSnapshot() {
  std::vector<const TableInfo*> todo;
  std::lock_guard lock(state_mu_);
  for (const auto& t : tables_) {
    if (NeedsReading(state_.snapshot, handed_on_, t.Qualified())) todo.push_back(&t);
  }
  return todo;
}

size_t PostgresSource::ReadersFor(const std::vector<const TableInfo*>& todo) const {
  int64_t ranges = 0;
  for (const TableInfo* t : todo) {
    ranges += std::max<int64_t>(t->estimated_rows, 0) / options_.snapshot_chunk_rows + 1;
  }
  return static_cast<size_t>(std::min<int64_t>(options_.snapshot_parallelism, ranges));
}

Result<bool> PostgresSource::PumpSnapshot(SnapshotRun& run, PgConn& meta, BatchEmitter& out,
                                          milliseconds wait,
                                          const std::function<void()>& while_waiting,
                                          const std::function<Status()>& first) {
  auto piece = run.workers->Next(wait);
  if (!piece.ok()) return piece.status();
  bool got = piece->has_value();
  if (got) {
    if (first) SLUICE_RETURN_IF_ERROR(first());
    if (!EmitPiece(std::move(**piece), run, out, while_waiting)) {
      return Status::Cancelled("stopping during snapshot");
    }
  }
  if (!stream_) SLUICE_RETURN_IF_ERROR(PollLag(meta, run.tag));  // the stream polls its own
  bool log = std::chrono::steady_clock::now() - run.last_log >= kProgressLogInterval;
  if (log) run.last_log = std::chrono::steady_clock::now();
  if (got && run.all_emitted()) log = true;           // the last range: the final count
  if (got || log) ReportSnapshot(run.progress, log);  // (the stream asks between transactions)
  return got;
}

Status PostgresSource::PlanTables(PgConn& conn, const std::vector<const TableInfo*>& todo) {
  std::map<std::string, TablePlan> planned;
  for (const TableInfo* t : todo) {
    {
      std::lock_guard lock(state_mu_);
      const auto& plans = state_.snapshot.plans;
      auto it = plans.find(t->Qualified());
      if (it != plans.end() && PlanFits(it->second, *t)) continue;
      if (it != plans.end()) {
        spdlog::warn(
            "pipeline {}: the key of {} changed since its snapshot began; reading it "
            "again in full",
            ctx_.pipeline, t->Qualified());
      }
    }
    std::string how;
    auto plan = PlanTable(conn, *t, options_.snapshot_chunk_rows, &how);
    if (!plan.ok()) return plan.status();
    spdlog::info("pipeline {}: {} splits into {} key ranges ({})", ctx_.pipeline, t->Qualified(),
                 plan->ranges(), how);
    planned[t->Qualified()] = std::move(plan).value();
  }
  if (planned.empty()) return Status::Ok();
  // The bounds are recorded before any range can be: a restart must split the table the
  // same way to know what its finished ranges hold.
  return RecordState([&](SourceState& st) {
    for (auto& [table, plan] : planned) st.snapshot.plans[table] = plan;
  });
}

std::vector<RangeJob> PostgresSource::SnapshotJobs(const PgConn& conn,
                                                   const std::vector<const TableInfo*>& todo,
                                                   std::vector<TableProgress>* progress) {
  std::vector<RangeJob> jobs;
  std::lock_guard lock(state_mu_);
  for (const TableInfo* t : todo) {
    const TablePlan& plan = state_.snapshot.plans.at(t->Qualified());
    // Ranges this process emitted in full are on their way to the sinks: not read again.
    RangesLeft left = LeftOf(plan, handed_on_.Of(t->Qualified()));
    TableProgress p;
    p.table = t->Qualified();
    p.done = &ctx_.metrics.GetGauge("sluice_snapshot_rows_done", "Snapshot rows read, per table",
                                    {{"table", p.table}});
    p.estimated = &ctx_.metrics.GetGauge("sluice_snapshot_rows_estimated",
                                         "Rows the snapshot expects per table (pg_class.reltuples)",
                                         {{"table", p.table}});
    p.ranges = plan.ranges();
    p.rows = left.rows;
    p.ranges_done = left.ranges_done;
    for (size_t r : left.to_read) jobs.push_back(RangeJob{t, r, RangeFrom(conn, *t, plan, r)});
    p.estimate = std::max(t->estimated_rows, p.rows);
    p.done->Set(static_cast<double>(p.rows));
    p.estimated->Set(static_cast<double>(p.estimate));
    progress->push_back(std::move(p));
  }
  return jobs;
}

bool PostgresSource::EmitPiece(RangePiece&& piece, SnapshotRun& run, BatchEmitter& out,
                               const std::function<void()>& while_waiting) {
  const std::vector<RangeJob>& jobs = run.workers->jobs();
  std::vector<int64_t>& job_rows = run.job_rows;
  std::vector<TableProgress>& progress = run.progress;
  const RangeJob& job = jobs[piece.job];
  auto rows = static_cast<int64_t>(piece.batch.changes.size());
  job_rows[piece.job] += rows;
  TableProgress* p = nullptr;
  for (auto& candidate : progress) {
    if (candidate.table == job.table->Qualified()) p = &candidate;
  }
  p->rows += rows;
  if (p->rows > p->estimate) p->estimate = p->rows;
  p->done->Set(static_cast<double>(p->rows));
  p->estimated->Set(static_cast<double>(p->estimate));
  if (piece.last) {
    {
      std::lock_guard lock(state_mu_);
      emitted_token_ = handed_on_.Add(HandedOnRange{p->table, job.range, job_rows[piece.job]});
    }
    piece.batch.checkpoint = Checkpoint{Lsn(), emitted_token_};
    gate_.Emitted(piece.batch.checkpoint);
    ++p->ranges_done;
    ++run.ranges_emitted;
    spdlog::info("pipeline {}: snapshot of {} range {} of {} read ({} rows)", ctx_.pipeline,
                 p->table, job.range, p->ranges, job_rows[piece.job]);
  }
  return out.Emit(std::move(piece.batch), while_waiting);
}

void PostgresSource::ReportSnapshot(std::vector<TableProgress>& progress, bool log) {
  int64_t rows = 0;
  int64_t estimate = 0;
  size_t ranges = 0;
  size_t ranges_done = 0;
  std::string tables;
  for (const auto& p : progress) {
    rows += p.rows;
    estimate += p.estimate;
    ranges += p.ranges;
    ranges_done += p.ranges_done;
    if (log) {
      tables += fmt::format("{}{} {} of ~{} rows, {} of {} ranges", tables.empty() ? "" : "; ",
                            p.table, p.rows, p.estimate, p.ranges_done, p.ranges);
    }
  }
  ctx_.status->Set(SourcePhase::kSnapshot,
                   fmt::format("{} of ~{} rows, {} of {} ranges read{}", rows, estimate,
                               ranges_done, ranges, stream_ ? ", the other tables streaming" : ""));
  if (log) spdlog::info("pipeline {}: snapshot progress: {}", ctx_.pipeline, tables);
}

}  // namespace sluice::pg
