// PostgresSource::OpenScan: the consistent read `sluice verify` compares sinks against. A
// temporary logical slot exports a snapshot that holds exactly the transactions committed
// before its consistent point, the same kind of point the pipeline's own snapshot starts at.
#include <libpq-fe.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <random>
#include <thread>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/postgres_source.h"
#include "connectors/postgres/snapshot_plan.h"
#include "connectors/postgres/snapshot_reader.h"
#include "core/scan.h"

namespace sluice::pg {

namespace {

constexpr size_t kScanBatch = 500;  // rows per comparison step

class PostgresScan : public SourceScan {
 public:
  PostgresScan(std::string source, std::string dsn, std::string slot, PgConn conn, Lsn at,
               std::vector<TableInfo> tables, TypeOverrides types)
      : source_(std::move(source)),
        dsn_(std::move(dsn)),
        slot_(std::move(slot)),
        conn_(std::move(conn)),
        at_(at),
        infos_(std::move(tables)),
        types_(std::move(types)) {
    for (const TableInfo& t : infos_) {
      TableSchema s{TableId{source_, t.schema, t.name}, {}, t.key_columns, {}};
      for (const ColumnInfo& c : t.columns) s.columns.push_back(c.name);
      tables_.push_back(std::move(s));
    }
  }

  Position position() const override { return Position{at_, 0}; }
  const std::vector<TableSchema>& tables() const override { return tables_; }
  std::optional<uint64_t> EstimatedRows(const TableId& table) const override {
    const TableInfo* t = Find(table);
    if (t == nullptr || t->estimated_rows <= 0) return std::nullopt;  // -1: never analyzed
    return static_cast<uint64_t>(t->estimated_rows);
  }

  Status WaitCheckpointed(std::chrono::milliseconds timeout) override {
    auto conn = PgConn::Connect(dsn_, false);
    if (!conn.ok()) return conn.status();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string confirmed = "nothing";
    while (true) {
      auto r = conn->Exec(
          "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1", {slot_});
      if (!r.ok()) return r.status();
      if (PQntuples(r->get()) == 0) {
        return Status::NotFound("replication slot " + slot_ +
                                " does not exist: the pipeline has not run yet");
      }
      if (!IsNull(r->get(), 0, 0)) {
        confirmed = GetText(r->get(), 0, 0);
        auto lsn = Lsn::Parse(confirmed);
        if (lsn && *lsn >= at_) return Status::Ok();
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status::Unavailable("replication slot " + slot_ + " has confirmed " + confirmed +
                                   ", not yet " + at_.ToString() + " (the verify snapshot) after " +
                                   std::to_string(timeout.count() / 1000) +
                                   " s: is the pipeline running (sluice run) and keeping up?");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  Status Read(const TableId& table,
              const std::function<Status(std::vector<Change>&&)>& each) override {
    const TableInfo* t = Find(table);
    if (!t) return Status::NotFound("no table " + table.ToString() + " in the scan");
    TablePlan whole;  // no bounds: one range, the whole table
    return Copy(*t, RangeFrom(conn_, *t, whole, 0), each);
  }

  Result<std::vector<Change>> Lookup(const TableId& table,
                                     const std::vector<std::vector<std::string>>& keys) override {
    const TableInfo* t = Find(table);
    if (!t) return Status::NotFound("no table " + table.ToString() + " in the scan");
    std::vector<Change> out;
    if (keys.empty()) return out;
    Status s = Copy(*t, KeysFrom(conn_, *t, keys), [&](std::vector<Change>&& rows) {
      for (Change& c : rows) out.push_back(std::move(c));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

 private:
  const TableInfo* Find(const TableId& table) const {
    for (const TableInfo& t : infos_) {
      if (t.schema == table.schema && t.name == table.name) return &t;
    }
    return nullptr;
  }

  Status Copy(const TableInfo& t, const std::string& from,
              const std::function<Status(std::vector<Change>&&)>& each) {
    Status failed;
    SnapshotLimits limits;
    limits.batch_max_changes = kScanBatch;
    Status s = CopyRange(conn_, t, types_, source_, from, at_, limits, [&](Batch&& batch, bool) {
      if (batch.changes.empty()) return true;
      failed = each(std::move(batch.changes));
      return failed.ok();
    });
    // A refused batch left the COPY unfinished, and the scan with it: verify stops there.
    return failed.ok() ? s : failed;
  }

  std::string source_;
  std::string dsn_;
  std::string slot_;
  PgConn conn_;  // inside the repeatable-read transaction holding the scan's snapshot
  Lsn at_;
  std::vector<TableInfo> infos_;
  std::vector<TableSchema> tables_;
  TypeOverrides types_;
};

}  // namespace

Result<std::unique_ptr<SourceScan>> PostgresSource::OpenScan() {
  std::optional<Lsn> at;
  Result<PgConn> conn = Status::Internal("no snapshot");
  {
    auto repl = PgConn::Connect(options_.dsn, true);
    if (!repl.ok()) return repl.status();
    std::random_device rd;
    std::string slot =
        "sluice_verify_" + std::to_string(getpid()) + "_" + std::to_string(rd() % 100000);
    auto created = repl->Exec("CREATE_REPLICATION_SLOT " + repl->Ident(slot) +
                              " TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT");
    if (!created.ok()) {
      return created.status().WithContext("creating a temporary replication slot to verify from");
    }
    at = Lsn::Parse(GetText(created->get(), 0, 1));
    if (!at) return Status::Internal("CREATE_REPLICATION_SLOT gave no consistent point");
    conn = OpenSnapshotConn(options_.dsn, GetText(created->get(), 0, 2));
    if (!conn.ok()) return conn.status();
    // Leaving the block closes the replication connection and drops the temporary slot. The
    // importing transaction keeps the snapshot (and its xmin) on its own, so no WAL is held
    // while verify runs.
  }
  SLUICE_RETURN_IF_ERROR(ResolveSlotName(*conn));
  auto tables = ResolveTables(*conn, ctx_.tables);
  if (!tables.ok()) return tables.status();
  auto types = LoadTypeOverrides(*conn);
  if (!types.ok()) return types.status();
  spdlog::info("pipeline {}: verifying at {} (snapshot of a temporary slot)", ctx_.pipeline,
               at->ToString());
  return std::unique_ptr<SourceScan>(std::make_unique<PostgresScan>(
      ctx_.source, options_.dsn, options_.slot, std::move(conn).value(), *at,
      std::move(tables).value(), std::move(types).value()));
}

}  // namespace sluice::pg
