// MariaDbSource's snapshot: the tables resolved from the selectors, planned into key ranges
// and read in one START TRANSACTION WITH CONSISTENT SNAPSHOT, whose binary log position
// (binlog_snapshot_file/_position, as a GTID state through BINLOG_GTID_POS) every row
// carries. The first run records that position as where streaming starts before it reads
// a row. A restart reads the ranges left in a new snapshot, at a later position: its rows
// are at least as new as every change the stream replays from the recorded start, and the
// sinks' position guards keep the newer of the two.
#include <spdlog/spdlog.h>

#include "connectors/mariadb/mariadb_source.h"
#include "connectors/mariadb/table_read.h"

namespace sluice::mariadb {

namespace {

bool Matches(const std::string& pattern, const std::string& name) {
  return pattern == "*" || pattern == name;
}

// Builds the column class from the result metadata of a SELECT of the table.
ValueClass ClassOfField(const MYSQL_FIELD& f) {
  Column c;
  c.type = static_cast<ColumnType>(f.type);
  c.real_type = c.type;
  if (f.flags & ENUM_FLAG) c.real_type = kTypeEnum;
  if (f.flags & SET_FLAG) c.real_type = kTypeSet;
  if (c.type == kTypeEnum || c.type == kTypeSet) {
    c.real_type = c.type;
    c.type = kTypeString;
  }
  c.collation = static_cast<uint16_t>(f.charsetnr);
  return ClassOf(c);
}

}  // namespace

Status MariaDbSource::ResolveTables(MyConn& conn) {
  tables_.clear();
  auto rows = conn.Query(
      "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = "
      "'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME");
  if (!rows.ok()) return rows.status();
  for (const TableSelector& sel : ctx_.tables) {
    bool found = false;
    for (const TextRow& r : rows.value()) {
      if (!Matches(sel.schema, *r[0]) || !Matches(sel.table, *r[1])) continue;
      found = true;
      if (Selected(*r[0], *r[1])) continue;
      MyTable t;
      t.database = *r[0];
      t.name = *r[1];
      t.qualified = t.database + "." + t.name;
      t.id = std::make_shared<const TableId>(TableId{ctx_.source, t.database, t.name});
      tables_.push_back(std::move(t));
    }
    if (!found) {
      return Status::NotFound("source " + ctx_.source + " has no table " + sel.schema + "." +
                              sel.table);
    }
  }
  for (MyTable& t : tables_) {
    auto key = conn.Query(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_NAME = "
        "'PRIMARY' AND TABLE_SCHEMA = " +
        conn.Quote(t.database) + " AND TABLE_NAME = " + conn.Quote(t.name) +
        " ORDER BY ORDINAL_POSITION");
    if (!key.ok()) return key.status();
    for (const TextRow& r : key.value()) t.key.push_back(*r[0]);
    if (t.key.empty()) {
      return Status::FailedPrecondition("table " + t.qualified +
                                        " has no primary key: sluice needs one to key changes");
    }
    auto types = conn.Query(
        "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE DATA_TYPE IN "
        "('uuid', 'inet4', 'inet6') AND TABLE_SCHEMA = " +
        conn.Quote(t.database) + " AND TABLE_NAME = " + conn.Quote(t.name));
    if (!types.ok()) return types.status();
    for (const TextRow& r : types.value()) {
      t.logical[*r[0]] = *r[1] == "uuid"    ? Column::Logical::kUuid
                         : *r[1] == "inet4" ? Column::Logical::kInet4
                                            : Column::Logical::kInet6;
    }
    std::string sql = "SELECT * FROM " + FromOf(t) + " LIMIT 0";
    if (mysql_real_query(conn.get(), sql.data(), sql.size()) != 0) {
      return ToStatus(conn.get(), sql);
    }
    MYSQL_RES* res = mysql_store_result(conn.get());
    if (res == nullptr) return ToStatus(conn.get(), sql);
    unsigned n = mysql_num_fields(res);
    MYSQL_FIELD* fields = mysql_fetch_fields(res);
    for (unsigned i = 0; i < n; ++i) {
      t.columns.emplace_back(fields[i].name, fields[i].name_length);
      t.classes.push_back(ClassOfField(fields[i]));
    }
    mysql_free_result(res);
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (t.classes[i] == ValueClass::kUnsupported) {
        return Status::InvalidArgument("table " + t.qualified + " column " + t.columns[i] +
                                       ": its type is not supported");
      }
    }
  }
  return Status::Ok();
}

Status MariaDbSource::PlanTable(MyConn& conn, const MyTable& t) {
  TablePlan plan;
  plan.key = t.key;
  std::vector<std::string> last;
  while (true) {
    std::string sql = "SELECT " + ColumnList(t.key) + " FROM " + FromOf(t);
    if (!last.empty()) sql += " WHERE " + KeyList(t.key) + " > " + BoundList(conn, last);
    sql += " ORDER BY " + ColumnList(t.key);
    sql += " LIMIT 1 OFFSET " + std::to_string(options_.snapshot_chunk_rows - 1);
    auto rows = conn.Query(sql);
    if (!rows.ok()) return rows.status();
    if (rows.value().empty()) break;
    last.clear();
    for (const auto& v : rows.value()[0]) last.push_back(v.value_or(""));
    plan.bounds.push_back(last);
  }
  std::lock_guard lock(state_mu_);
  return RecordStateLocked([&](State& st) { st.snapshot.plans[t.qualified] = plan; });
}

Status MariaDbSource::ReadRange(MyConn& conn, const MyTable& t, const TablePlan& plan, size_t range,
                                Lsn position, BatchEmitter& out, const std::atomic<bool>& stop) {
  // The range's last batch, which carries its token, is emitted here, not by ReadRows.
  Batch last;
  bool have_last = false;
  auto rows = ReadRows(conn, t, SelectColumns(t) + RangeWhere(conn, t, plan, range), position,
                       ctx_.batch_max_changes, ctx_.batch_max_bytes, [&](Batch&& b) {
                         if (have_last && (stop || !Emit(std::move(last), out))) return false;
                         last = std::move(b);
                         have_last = true;
                         return true;
                       });
  if (!rows.ok()) return rows.status();
  {
    std::lock_guard lock(state_mu_);
    last.checkpoint.token = handed_on_.Add({t.qualified, range, rows.value()});
  }
  if (!Emit(std::move(last), out)) return Status::Cancelled("stopped");
  return Status::Ok();
}

Status MariaDbSource::Snapshot(BatchEmitter& out, const std::atomic<bool>& stop) {
  std::vector<const MyTable*> todo;
  bool started;
  {
    std::lock_guard lock(state_mu_);
    for (const MyTable& t : tables_) {
      if (NeedsReading(state_.snapshot, handed_on_, t.qualified)) todo.push_back(&t);
    }
    started = state_.started;
  }
  if (todo.empty() && started) return Status::Ok();
  ctx_.status->Set(SourcePhase::kSnapshot);
  auto conn = MyConn::Connect(options_.dsn);
  if (!conn.ok()) return conn.status();
  MyConn& c = conn.value();
  auto begun = BeginConsistentRead(c);
  if (!begun.ok()) return begun.status();
  std::string gtid = begun.value();
  auto snapshot_at = GtidState::Parse(gtid);
  if (!snapshot_at.ok()) return snapshot_at.status();
  Lsn position(snapshot_at.value().Position());
  if (!started) {
    std::lock_guard lock(state_mu_);
    SLUICE_RETURN_IF_ERROR(RecordStateLocked([&](State& st) {
      st.started = true;
      st.gtid = gtid;
    }));
  }
  spdlog::info("pipeline {}: snapshot of {} table(s) at GTID {}", ctx_.pipeline, todo.size(), gtid);
  size_t n = 0;
  for (const MyTable* t : todo) {
    ++n;
    ctx_.status->Set(SourcePhase::kSnapshot, "table " + std::to_string(n) + " of " +
                                                 std::to_string(todo.size()) + ": " + t->qualified);
    TablePlan plan;
    bool planned;
    {
      std::lock_guard lock(state_mu_);
      auto it = state_.snapshot.plans.find(t->qualified);
      planned = it != state_.snapshot.plans.end() && it->second.key == t->key;
      if (planned) plan = it->second;
    }
    if (!planned) {
      SLUICE_RETURN_IF_ERROR(PlanTable(c, *t));
      std::lock_guard lock(state_mu_);
      plan = state_.snapshot.plans[t->qualified];
    }
    std::map<size_t, int64_t> handed;
    {
      std::lock_guard lock(state_mu_);
      handed = handed_on_.Of(t->qualified);
    }
    for (size_t range : LeftOf(plan, handed).to_read) {
      SLUICE_RETURN_IF_ERROR(ReadRange(c, *t, plan, range, position, out, stop));
      ctx_.status->Beat();
    }
  }
  SLUICE_RETURN_IF_ERROR(c.Exec("COMMIT"));
  return Status::Ok();
}

}  // namespace sluice::mariadb
