// MariaDbSource: a pipeline's reader of one MariaDB (or MySQL) server. Reads the tables in
// one consistent-snapshot transaction whose exact binary log position it records first,
// key range by key range (sourcekit's range progress), then follows the binary log as a
// replica from exactly that position, confirming only what every sink made durable.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/mariadb/gtid_state.h"
#include "connectors/mariadb/my_conn.h"
#include "connectors/mariadb/table_map.h"
#include "connectors/mariadb/table_read.h"
#include "connectors/mariadb/value_map.h"
#include "core/registry.h"
#include "core/source.h"
#include "sourcekit/confirm_gate.h"
#include "sourcekit/snapshot_ranges.h"

namespace sluice::mariadb {

struct MariaDbOptions {
  Dsn dsn;
  uint32_t server_id = 0;                // this replica's id, unique among the server's replicas
  int64_t snapshot_chunk_rows = 100000;  // rows per snapshot key range (about)
  int heartbeat_ms = 1000;               // the server's heartbeat while its log is idle
};

// The source's file in the pipeline's state directory: {"gtid": confirmed GTID state, the
// snapshot's progress}.
inline constexpr const char* kStateFile = "mariadb_source.json";

// Run() and Shutdown() on the pipeline's source thread; Confirm() from sink threads.
class MariaDbSource : public Source {
 public:
  MariaDbSource(SourceContext ctx, MariaDbOptions options);

  Status Check() override;
  Result<std::vector<TableSchema>> Describe() override;
  // A consistent-snapshot transaction at the server's current GTID state (mariadb_verify.cc).
  Result<std::unique_ptr<SourceScan>> OpenScan() override;
  Status Run(BatchEmitter& out, const std::atomic<bool>& stop) override;
  void Confirm(const Checkpoint& checkpoint) override;

 private:
  // What the state directory holds: the GTID position streaming resumes after, and the
  // snapshot's progress.
  struct State {
    bool started = false;  // a start position was recorded
    std::string gtid;
    SnapshotRecord snapshot;
  };

  Status RunOnce(BatchEmitter& out, const std::atomic<bool>& stop);
  Status LoadState();
  // Writes `state_` after `change` (under state_mu_): in memory only once it is on disk.
  Status RecordStateLocked(const std::function<void(State&)>& change);
  // The tables the selectors name, with their columns and keys (mariadb_snapshot.cc).
  Status ResolveTables(MyConn& conn);
  // Reads every range not yet durable nor handed on, in one consistent snapshot; records
  // where streaming starts first when nothing is recorded yet (mariadb_snapshot.cc).
  Status Snapshot(BatchEmitter& out, const std::atomic<bool>& stop);
  Status PlanTable(MyConn& conn, const MyTable& t);
  Status ReadRange(MyConn& conn, const MyTable& t, const TablePlan& plan, size_t range,
                   Lsn position, BatchEmitter& out, const std::atomic<bool>& stop);
  // Follows the binary log from `from` until stopped or the connection fails
  // (mariadb_stream.cc).
  Status Stream(const GtidState& from, BatchEmitter& out, const std::atomic<bool>& stop);
  bool Emit(Batch&& batch, BatchEmitter& out);
  const MyTable* Selected(const std::string& database, const std::string& table);

  SourceContext ctx_;
  MariaDbOptions options_;
  std::vector<MyTable> tables_;  // source thread
  bool state_loaded_ = false;    // source thread
  std::string emitted_gtid_;     // source thread: the GTID state after the last commit handed on
  std::map<std::string, std::shared_ptr<const TableId>> other_ids_;  // source thread

  ConfirmGate gate_;
  Counter& reconnects_;

  std::mutex state_mu_;
  State state_;                                           // guarded by state_mu_
  HandedOnRanges handed_on_;                              // guarded by state_mu_
  std::deque<std::pair<uint64_t, std::string>> pending_;  // guarded: commits handed on
};

void RegisterMariaDbSource(Registry& registry);

}  // namespace sluice::mariadb
