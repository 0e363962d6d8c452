// PostgresSource: a pipeline's reader of one PostgreSQL database. Creates (or reuses) the
// pipeline's publication and logical slot, snapshots the tables with the slot's exported
// snapshot, then streams pgoutput from the slot, confirming only what the pipeline confirmed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/change_builder.h"
#include "connectors/postgres/replication_stream.h"
#include "connectors/postgres/slot.h"
#include "connectors/postgres/snapshot_workers.h"
#include "connectors/postgres/source_state.h"
#include "core/registry.h"
#include "core/source.h"
#include "sourcekit/confirm_gate.h"

namespace sluice::pg {

struct PostgresOptions {
  std::string dsn;
  std::string slot;                 // default sluice_<database>_<pipeline>
  std::string publication;          // default sluice_<pipeline>
  bool managed_publication = true;  // false when the user named their own publication
  std::chrono::milliseconds status_interval{10000};
  // Unchanged TOAST values: false marks them unchanged; true reads the current value by key.
  bool toast_lookup = false;
  int snapshot_parallelism = 2;          // connections reading snapshot ranges at once
  int64_t snapshot_chunk_rows = 100000;  // rows per snapshot key range (about)
  // How long the stream may wait for full sinks, reading ahead, before it closes the
  // replication connection (and reopens it once they take changes again).
  std::chrono::milliseconds blocked_timeout{10000};
  // A table's columns changed mid-stream: pass its changes on with the new columns (true),
  // or stop the pipeline before the first change made after it (false).
  bool follow_schema_changes = true;
};

// Run() and Shutdown() on the pipeline's source thread; Confirm() from sink threads.
class PostgresSource : public Source {
 public:
  PostgresSource(SourceContext ctx, PostgresOptions options);
  ~PostgresSource() override;

  Status Check() override;
  Result<std::vector<TableSchema>> Describe() override;     // postgres_describe.cc
  Result<std::unique_ptr<SourceScan>> OpenScan() override;  // postgres_verify.cc
  Status Run(BatchEmitter& out, const std::atomic<bool>& stop) override;
  void Confirm(const Checkpoint& checkpoint) override;
  void Shutdown() override;

 private:
  // Per-table snapshot progress, for the metrics, the log and the status detail.
  struct TableProgress {
    std::string table;
    Gauge* done = nullptr;
    Gauge* estimated = nullptr;
    int64_t rows = 0;
    int64_t estimate = 0;
    size_t ranges = 0;
    size_t ranges_done = 0;
  };

  // Where a run starts streaming: the slot's confirmed position, or its consistent point
  // (with the exported snapshot) when the run created it.
  struct SlotStart {
    Lsn tag;
    std::string snapshot_name;
    bool created = false;
  };

  Status RunOnce(BatchEmitter& out, const std::atomic<bool>& stop);
  // Checks the server, resolves the tables and types, ensures the publication, loads state.
  Status Prepare(PgConn& meta);
  // Finds (waiting for a walsender this process closed) or creates the slot, and records
  // that it exists.
  Result<SlotStart> TakeSlot(PgConn& meta, PgConn& repl);
  // A slot that cannot serve this pipeline: another database's, lost, in use, not pgoutput;
  // or missing although the state says it was created.
  Status CheckSlot(const SlotInfo& slot);
  // START_REPLICATION on `repl` from the slot's position.
  Status StartStream(PgConn& meta, PgConn repl, bool held_back);
  // Tables added to a pipeline that streams: read beside the stream, their changes held back,
  // then Ok for the stream to be replayed (docs/architecture.md, "A table added later").
  Status StreamBesideSnapshot(PgConn& meta, PgConn repl, Lsn tag, BatchEmitter& out,
                              const std::atomic<bool>& stop);
  // A snapshot under way: its readers and its progress.
  struct SnapshotRun {
    std::unique_ptr<SnapshotWorkers> workers;
    std::vector<TableProgress> progress;
    std::vector<int64_t> job_rows;  // rows emitted per job
    std::chrono::steady_clock::time_point last_log;
    Lsn tag;
    size_t ranges_emitted = 0;  // jobs whose last piece was handed on
    bool all_emitted() const { return ranges_emitted == workers->jobs().size(); }
  };

  // Reads every key range not yet durable (nor emitted by this process), in parallel, in the
  // snapshot `snapshot_name` exported at or after `tag` (the slot's consistent point or
  // confirmed position). An empty name: export a fresh snapshot from `meta`
  // (a restart finishing a snapshot; see docs/architecture.md for why that is exact).
  Status Snapshot(PgConn& meta, const std::string& snapshot_name, Lsn tag, BatchEmitter& out,
                  const std::atomic<bool>& stop);
  // Plans the tables not yet done and starts their readers, which fill spent changes from
  // `pool` (may be null); null when every table is done.
  Result<std::unique_ptr<SnapshotRun>> StartSnapshot(PgConn& meta, const std::string& snapshot_name,
                                                     Lsn tag, std::shared_ptr<ChangePool> pool);
  // The tables with a snapshot range neither durable nor emitted by this process (all of
  // them before the first snapshot).
  std::vector<const TableInfo*> TablesToSnapshot();
  // Readers worth opening for `todo`: the parallelism, or fewer when the tables' row
  // estimates promise fewer ranges.
  size_t ReadersFor(const std::vector<const TableInfo*>& todo) const;
  // Emits the next piece the readers have, waiting up to `wait` for one, after running
  // `first` (when given); reports progress. True if a piece was handed on.
  Result<bool> PumpSnapshot(SnapshotRun& run, PgConn& meta, BatchEmitter& out,
                            std::chrono::milliseconds wait,
                            const std::function<void()>& while_waiting,
                            const std::function<Status()>& first = nullptr);
  // Makes a plan for each table in `todo` lacking a fitting one and records them.
  Status PlanTables(PgConn& conn, const std::vector<const TableInfo*>& todo);
  // The ranges of `todo` to read, and the progress rows for each table.
  std::vector<RangeJob> SnapshotJobs(const PgConn& conn, const std::vector<const TableInfo*>& todo,
                                     std::vector<TableProgress>* progress);
  // Emits one piece from the readers; the last piece of a range gets the next token.
  bool EmitPiece(RangePiece&& piece, SnapshotRun& run, BatchEmitter& out,
                 const std::function<void()>& while_waiting);
  void ReportSnapshot(std::vector<TableProgress>& progress, bool log);
  // Follows the slot. With `run`, the snapshot of tables added to a pipeline that already
  // streams: its pieces go between transactions, the stream's changes of its tables are
  // held back, and once its last range is handed on Stream returns Ok for the stream to be
  // replayed from the held position (docs/architecture.md, "A table added later").
  Status Stream(PgConn& meta, BatchEmitter& out, const std::atomic<bool>& stop,
                SnapshotRun* run = nullptr);
  // Every few seconds: the server's WAL end minus what is confirmed, as sluice_source_lag_bytes.
  Status PollLag(PgConn& meta, Lsn confirmed);
  // Time for a standby status: status_interval has passed, or a newer flush position has
  // waited kPromptStatus.
  bool StatusDue() const;
  Status SendStatus(bool reply_requested);
  // Called while the pipeline has no room for a batch: keeps the replication socket drained
  // (read ahead, keepalives answered) and, once the sinks have taken nothing for
  // blocked_timeout, closes the connection. A walsender blocked writing to a socket nobody
  // reads cannot exit, and the server's checkpointer waits for it when it invalidates the slot.
  void KeepReadingWhileBlocked();
  // Logs and counts a table described again with other columns; fails when the pipeline
  // is to stop on schema changes.
  Status OnSchemaChange(const ChangeBuilder::SchemaChange& change);
  // Opens the replication connection closed by KeepReadingWhileBlocked (or lost while
  // reading ahead) again, from the end of the newest commit handed on: what was handed on is
  // in the pipeline, so the server need not send it again.
  Status Reopen(PgConn& meta);
  // Changes a copy of the state, writes it to the state directory and, only once it is
  // written, makes it the state: what is in memory is never ahead of what a restart reads.
  Status RecordState(const std::function<void(SourceState&)>& change);
  // Confirm()'s snapshot half: records the ranges checkpoint `token` covers. False when they
  // could not be recorded; then nothing of the checkpoint may be confirmed.
  bool RecordRangesUpTo(uint64_t token);
  // A checkpoint that could not be confirmed because its ranges could not be recorded is
  // tried again from the source thread (about every second), as no later one may come.
  void RetryUnrecorded();
  // Learns the database name and, unless configured, names the slot after it.
  Status ResolveSlotName(PgConn& conn);
  Status LoadStateOnce();

  SourceContext ctx_;
  PostgresOptions options_;
  std::vector<TableInfo> tables_;              // source thread
  std::string database_;                       // source thread, once connected
  TypeOverrides types_;                        // source thread: domains and user-type arrays
  bool state_loaded_ = false;                  // source thread
  std::unique_ptr<ReplicationStream> stream_;  // source thread
  PendingConns pending_conns_;                 // source thread: snapshot readers being opened

  // What may be confirmed to the server (flush_lsn): never ahead of the sinks, or a crash
  // could lose changes we still need.
  ConfirmGate gate_;
  Lsn received_;                    // source thread: highest WAL end seen
  uint64_t emitted_token_ = 0;      // source thread: newest snapshot token handed on
  bool replay_ = false;             // source thread: the stream ended for a replay, not an outage
  std::string replaced_walsender_;  // source thread: pid of the walsender closed for it
  std::chrono::steady_clock::time_point last_status_;  // source thread
  Lsn sent_flush_;  // source thread: the flush position the server last heard from us

  std::chrono::steady_clock::time_point last_lag_poll_;  // source thread
  int proto_version_ = 1;                                // source thread: pgoutput's
  // Source thread: since when the pipeline has had no room for the batch being handed on.
  std::optional<std::chrono::steady_clock::time_point> blocked_since_;

  Gauge& lag_bytes_;
  Gauge& confirmed_lsn_;
  Counter& reconnects_;
  Counter& paused_;
  Counter& schema_changes_;

  std::mutex state_mu_;
  SourceState state_;                       // guarded by state_mu_
  std::atomic<bool> state_failing_{false};  // the last write to the state directory failed
  std::optional<Checkpoint> unrecorded_;    // guarded by state_mu_; see RetryUnrecorded
  std::chrono::steady_clock::time_point last_retry_;  // source thread
  HandedOnRanges handed_on_;                          // guarded by state_mu_
};

void RegisterPostgresSource(Registry& registry);

}  // namespace sluice::pg
