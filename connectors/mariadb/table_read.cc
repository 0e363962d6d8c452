#include "connectors/mariadb/table_read.h"

#include <utility>

namespace sluice::mariadb {

// "`a`, `b`".
std::string ColumnList(const std::vector<std::string>& key) {
  std::string out;
  for (const std::string& k : key) out += (out.empty() ? "" : ", ") + QuoteIdent(k);
  return out;
}

// "(`a`, `b`)" or "`a`": the key as one value to compare.
std::string KeyList(const std::vector<std::string>& key) {
  return key.size() == 1 ? ColumnList(key) : "(" + ColumnList(key) + ")";
}

std::string BoundList(MyConn& conn, const std::vector<std::string>& bound) {
  std::string out;
  for (const std::string& v : bound) out += (out.empty() ? "" : ", ") + conn.Quote(v);
  return bound.size() == 1 ? out : "(" + out + ")";
}

std::string FromOf(const MyTable& t) { return QuoteIdent(t.database) + "." + QuoteIdent(t.name); }

std::string SelectColumns(const MyTable& t) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    std::string col = QuoteIdent(t.columns[i]);
    // MariaDB prints a FLOAT with 6 digits; as a DOUBLE it prints the float's exact value.
    if (t.classes[i] == ValueClass::kFloat) col = "CAST(" + col + " AS DOUBLE)";
    sql += (i ? ", " : "") + col;
  }
  return sql + " FROM " + FromOf(t);
}

std::string RangeWhere(MyConn& conn, const MyTable& t, const TablePlan& plan, size_t range) {
  std::vector<std::string> where;
  if (range > 0) where.push_back(KeyList(t.key) + " > " + BoundList(conn, plan.bounds[range - 1]));
  if (range < plan.bounds.size()) {
    where.push_back(KeyList(t.key) + " <= " + BoundList(conn, plan.bounds[range]));
  }
  std::string sql;
  for (size_t i = 0; i < where.size(); ++i) sql += (i ? " AND " : " WHERE ") + where[i];
  return sql;
}

std::string KeysWhere(MyConn& conn, const MyTable& t,
                      const std::vector<std::vector<std::string>>& keys) {
  std::string in;
  for (const std::vector<std::string>& k : keys)
    in += (in.empty() ? "" : ", ") + BoundList(conn, k);
  return " WHERE " + KeyList(t.key) + " IN (" + in + ")";
}

Result<int64_t> ReadRows(MyConn& conn, const MyTable& t, const std::string& sql, Lsn position,
                         size_t max_changes, size_t max_bytes,
                         const std::function<bool(Batch&&)>& each) {
  if (mysql_real_query(conn.get(), sql.data(), sql.size()) != 0) return ToStatus(conn.get(), sql);
  MYSQL_RES* res = mysql_use_result(conn.get());
  if (res == nullptr) return ToStatus(conn.get(), sql);
  std::vector<size_t> key_index;
  for (const std::string& k : t.key) {
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (t.columns[i] == k) key_index.push_back(i);
    }
  }
  int64_t rows = 0;
  Batch batch;
  bool stopped = false;
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    unsigned long* lengths = mysql_fetch_lengths(res);
    Change c;
    c.op = Op::kRead;
    c.table = t.id;
    c.position = Position{position, 0};
    Row after;
    after.reserve(t.columns.size());
    for (size_t i = 0; i < t.columns.size(); ++i) {
      after.push_back(Field{t.columns[i],
                            row[i] ? TextToValue(t.classes[i], std::string_view(row[i], lengths[i]))
                                   : Value::Null()});
    }
    for (size_t k : key_index) c.key.push_back(after[k]);
    c.after = std::move(after);
    batch.bytes += c.ApproxBytes();
    batch.changes.push_back(std::move(c));
    ++rows;
    if (batch.changes.size() >= max_changes || batch.bytes >= max_bytes) {
      if (!each(std::exchange(batch, Batch{}))) {
        stopped = true;
        break;
      }
    }
  }
  Status fetch =
      mysql_errno(conn.get()) != 0 && !stopped ? ToStatus(conn.get(), sql) : Status::Ok();
  mysql_free_result(res);  // reads what is left of the result when stopped early
  if (stopped) return Status::Cancelled("stopped");
  SLUICE_RETURN_IF_ERROR(fetch);
  if (!batch.changes.empty() && !each(std::move(batch))) return Status::Cancelled("stopped");
  return rows;
}

Result<std::string> BeginConsistentRead(MyConn& conn) {
  SLUICE_RETURN_IF_ERROR(conn.Exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"));
  SLUICE_RETURN_IF_ERROR(conn.Exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"));
  auto at = conn.Query(
      "SELECT BINLOG_GTID_POS(f.VARIABLE_VALUE, p.VARIABLE_VALUE) FROM "
      "information_schema.SESSION_STATUS f, information_schema.SESSION_STATUS p WHERE "
      "f.VARIABLE_NAME = 'BINLOG_SNAPSHOT_FILE' AND p.VARIABLE_NAME = 'BINLOG_SNAPSHOT_POSITION'");
  if (!at.ok()) return at.status();
  if (at.value().empty() || !at.value()[0][0]) {
    return Status::FailedPrecondition(
        "the server gives no GTID for its snapshot position (binlog_snapshot_file; is log_bin "
        "on?)");
  }
  return *at.value()[0][0];
}

}  // namespace sluice::mariadb
