// MariaDbSource::Describe and ::OpenScan: the tables' columns for `sluice check --connect`,
// and the consistent read `sluice verify` compares sinks against. The read is a
// consistent-snapshot transaction, as the pipeline's own snapshot is; its GTID state says
// which transactions it holds, and the pipeline has passed it once the GTID state its state
// file records covers it in every replication domain.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "connectors/mariadb/mariadb_source.h"
#include "connectors/mariadb/table_read.h"
#include "core/scan.h"
#include "core/state_store.h"

namespace sluice::mariadb {

namespace {

constexpr size_t kScanBatch = 500;  // rows per comparison step
constexpr size_t kScanBatchBytes = size_t{8} << 20;

TableSchema SchemaOf(const MyTable& t) { return TableSchema{*t.id, t.columns, t.key, {}}; }

class MariaDbScan : public SourceScan {
 public:
  // `recorded`: the GTID state the pipeline's state file holds now ("" when none).
  MariaDbScan(MyConn conn, GtidState at, std::vector<MyTable> tables,
              std::function<Result<std::string>()> recorded)
      : conn_(std::move(conn)),
        at_(std::move(at)),
        infos_(std::move(tables)),
        recorded_(std::move(recorded)) {
    for (const MyTable& t : infos_) tables_.push_back(SchemaOf(t));
  }

  Position position() const override { return Position{Lsn(at_.Position()), 0}; }
  const std::vector<TableSchema>& tables() const override { return tables_; }

  Status WaitCheckpointed(std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string seen = "nothing";
    while (true) {
      auto recorded = recorded_();
      if (!recorded.ok()) return recorded.status();
      if (!recorded.value().empty()) {
        seen = recorded.value();
        auto state = GtidState::Parse(seen);
        if (!state.ok()) return state.status();
        if (state.value().Covers(at_)) return Status::Ok();
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status::Unavailable("the pipeline has confirmed GTID " + seen + ", not yet " +
                                   at_.ToString() + " (the verify snapshot) after " +
                                   std::to_string(timeout.count() / 1000) +
                                   " s: is the pipeline running (sluice run) and keeping up?");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  Status Read(const TableId& table,
              const std::function<Status(std::vector<Change>&&)>& each) override {
    const MyTable* t = Find(table);
    if (t == nullptr) return Status::NotFound("no table " + table.ToString() + " in the scan");
    return Select(*t, SelectColumns(*t) + " ORDER BY " + ColumnList(t->key), each);
  }

  Result<std::vector<Change>> Lookup(const TableId& table,
                                     const std::vector<std::vector<std::string>>& keys) override {
    const MyTable* t = Find(table);
    if (t == nullptr) return Status::NotFound("no table " + table.ToString() + " in the scan");
    std::vector<Change> out;
    if (keys.empty()) return out;
    Status s =
        Select(*t, SelectColumns(*t) + KeysWhere(conn_, *t, keys), [&](std::vector<Change>&& rows) {
          for (Change& c : rows) out.push_back(std::move(c));
          return Status::Ok();
        });
    if (!s.ok()) return s;
    return out;
  }

 private:
  const MyTable* Find(const TableId& table) const {
    for (const MyTable& t : infos_) {
      if (t.database == table.schema && t.name == table.name) return &t;
    }
    return nullptr;
  }

  Status Select(const MyTable& t, const std::string& sql,
                const std::function<Status(std::vector<Change>&&)>& each) {
    Status failed;
    auto rows =
        ReadRows(conn_, t, sql, Lsn(at_.Position()), kScanBatch, kScanBatchBytes, [&](Batch&& b) {
          failed = each(std::move(b.changes));
          return failed.ok();
        });
    if (!failed.ok()) return failed;  // verify stops at a refused batch
    return rows.status();
  }

  MyConn conn_;  // inside the consistent-snapshot transaction
  GtidState at_;
  std::vector<MyTable> infos_;
  std::vector<TableSchema> tables_;
  std::function<Result<std::string>()> recorded_;
};

}  // namespace

Result<std::vector<TableSchema>> MariaDbSource::Describe() {
  auto conn = MyConn::Connect(options_.dsn);
  if (!conn.ok()) return conn.status();
  SLUICE_RETURN_IF_ERROR(ResolveTables(conn.value()));
  std::vector<TableSchema> out;
  for (const MyTable& t : tables_) out.push_back(SchemaOf(t));
  return out;
}

Result<std::unique_ptr<SourceScan>> MariaDbSource::OpenScan() {
  auto conn = MyConn::Connect(options_.dsn);
  if (!conn.ok()) return conn.status();
  auto gtid = BeginConsistentRead(conn.value());
  if (!gtid.ok()) return gtid.status();
  auto at = GtidState::Parse(gtid.value());
  if (!at.ok()) return at.status();
  SLUICE_RETURN_IF_ERROR(ResolveTables(conn.value()));
  spdlog::info("pipeline {}: verifying at GTID {}", ctx_.pipeline, gtid.value());
  StateStore* state = ctx_.state;
  auto recorded = [state]() -> Result<std::string> {
    if (state == nullptr) return std::string();
    auto doc = state->Load(kStateFile);
    if (!doc.ok()) return doc.status();
    if (!doc.value()) return std::string();
    nlohmann::json j = nlohmann::json::parse(*doc.value(), nullptr, false);
    if (!j.is_object()) {
      return Status::DataLoss("state " + state->PathOf(kStateFile) + " is damaged");
    }
    return j.value("gtid", "");
  };
  return std::unique_ptr<SourceScan>(std::make_unique<MariaDbScan>(
      std::move(conn).value(), std::move(at).value(), tables_, std::move(recorded)));
}

}  // namespace sluice::mariadb
