#include "connectors/postgres/snapshot_reader.h"

#include <optional>

#include "connectors/postgres/copy_text.h"
#include "connectors/postgres/type_map.h"

namespace sluice::pg {

namespace {

// Builds a read change from one COPY line's fields.
Change RowChange(const TableInfo& t, const TypeOverrides& types,
                 const std::shared_ptr<const TableId>& id, const std::vector<size_t>& key_index,
                 std::vector<std::optional<std::string>>& fields, Lsn tag) {
  Change c;
  c.op = Op::kRead;
  c.table = id;
  c.position = Position{tag, 0};
  Row row;
  row.reserve(t.columns.size());
  for (size_t i = 0; i < t.columns.size() && i < fields.size(); ++i) {
    Value v = fields[i] ? ConvertColumn(types, t.columns[i].type_oid, *fields[i]) : Value::Null();
    row.push_back({t.columns[i].name, std::move(v)});
  }
  c.key.reserve(key_index.size());
  for (size_t k : key_index) {
    if (k < row.size()) c.key.push_back(row[k]);
  }
  c.after = std::move(row);
  return c;
}

}  // namespace

Status CopyRange(PgConn& conn, const TableInfo& table, const TypeOverrides& types,
                 const std::string& source_name, const std::string& copy_sql, Lsn tag,
                 const SnapshotLimits& limits, const EmitFn& emit) {
  auto id = std::make_shared<const TableId>(TableId{source_name, table.schema, table.name});
  std::vector<size_t> key_index;
  for (const auto& k : table.key_columns) {
    for (size_t i = 0; i < table.columns.size(); ++i) {
      if (table.columns[i].name == k) key_index.push_back(i);
    }
  }
  ResultPtr start(PQexec(conn.get(), copy_sql.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_OUT) {
    return ToStatus(conn.get(), start.get(), "snapshot of " + table.Qualified());
  }
  Batch batch;
  std::vector<std::optional<std::string>> fields;
  while (true) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn.get(), &buf, 0);
    if (n == -1) break;
    if (n < 0) return ToStatus(conn.get(), nullptr, "snapshot of " + table.Qualified());
    std::string_view line(buf, static_cast<size_t>(n));
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    bool parsed = ParseCopyTextLine(line, &fields);
    PQfreemem(buf);
    if (!parsed) return Status::Internal("malformed COPY line from " + table.Qualified());
    Change c = RowChange(table, types, id, key_index, fields, tag);
    batch.bytes += c.ApproxBytes();
    batch.changes.push_back(std::move(c));
    if (batch.changes.size() >= limits.batch_max_changes || batch.bytes >= limits.batch_max_bytes) {
      if (!emit(std::move(batch), false)) return Status::Cancelled("stopping during snapshot");
      batch = Batch{};
    }
  }
  ResultPtr end(PQgetResult(conn.get()));
  if (!end || PQresultStatus(end.get()) != PGRES_COMMAND_OK) {
    return ToStatus(conn.get(), end.get(), "snapshot of " + table.Qualified());
  }
  while (ResultPtr extra{PQgetResult(conn.get())}) {
  }
  if (!emit(std::move(batch), true)) return Status::Cancelled("stopping during snapshot");
  return Status::Ok();
}

Result<PgConn> OpenSnapshotConn(const std::string& dsn, const std::string& snapshot) {
  auto conn = PgConn::Connect(dsn, false);
  if (!conn.ok()) return conn.status();
  auto begin = conn->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!begin.ok()) return begin.status();
  auto imp = conn->Exec("SET TRANSACTION SNAPSHOT " + conn->Literal(snapshot));
  if (!imp.ok()) return imp.status();
  return conn;
}

}  // namespace sluice::pg
