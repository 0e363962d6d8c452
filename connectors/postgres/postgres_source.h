// PostgresSource: a pipeline's reader of one PostgreSQL database. Creates (or reuses) the
// pipeline's publication and logical slot, snapshots the tables with the slot's exported
// snapshot, then streams pgoutput from the slot, confirming only what the pipeline confirmed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/replication_stream.h"
#include "core/registry.h"
#include "core/source.h"

namespace sluice::pg {

struct PostgresOptions {
  std::string dsn;
  std::string slot;                 // default sluice_<database>_<pipeline>
  std::string publication;          // default sluice_<pipeline>
  bool managed_publication = true;  // false when the user named their own publication
  std::chrono::milliseconds status_interval{10000};
};

// What survives a restart, in `<state_dir>/pipelines/<name>/postgres.json`.
struct SourceState {
  bool slot_created = false;          // once true, a missing slot means lost changes
  std::string snapshot_lsn;           // the slot's consistent point, for people reading it
  std::set<std::string> tables_done;  // tables whose snapshot is durable in every sink
};

// Run() and Shutdown() on the pipeline's source thread; Confirm() from sink threads.
class PostgresSource : public Source {
 public:
  PostgresSource(SourceContext ctx, PostgresOptions options);
  ~PostgresSource() override;

  Status Check() override;
  Status Run(BatchEmitter& out, const std::atomic<bool>& stop) override;
  void Confirm(const Checkpoint& checkpoint) override;
  void Shutdown() override;

 private:
  Status RunOnce(BatchEmitter& out, const std::atomic<bool>& stop);
  // Reads the tables whose snapshot is not yet durable. `fresh`: the connection has no
  // transaction yet, open a new repeatable-read one (a restart finishing a snapshot).
  Status Snapshot(PgConn& conn, Lsn tag, BatchEmitter& out, const std::atomic<bool>& stop,
                  bool fresh);
  Status Stream(BatchEmitter& out, const std::atomic<bool>& stop);
  Status SendStatus(bool reply_requested);
  Status SaveState();
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

  // Highest commit end LSN durable in every sink: what we send as flush_lsn. Never ahead of
  // the sinks, or a crash could lose changes we still need.
  std::atomic<uint64_t> confirmed_{0};
  Lsn received_;             // source thread: highest WAL end seen
  Lsn last_emitted_commit_;  // source thread: end LSN of the newest commit handed on
  Lsn idle_flush_;  // source thread: keepalive position confirmed while nothing was in flight
  uint64_t emitted_token_ = 0;  // source thread: newest snapshot token handed on
  std::atomic<uint64_t> confirmed_token_{0};
  std::chrono::steady_clock::time_point last_status_;

  std::mutex state_mu_;
  SourceState state_;                        // guarded by state_mu_
  std::vector<std::string> snapshot_order_;  // token k = first k entries done; guarded
};

void RegisterPostgresSource(Registry& registry);

}  // namespace sluice::pg
