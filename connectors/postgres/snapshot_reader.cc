#include "connectors/postgres/snapshot_reader.h"

#include <algorithm>

#include "connectors/postgres/copy_text.h"
#include "connectors/postgres/type_map.h"

namespace sluice::pg {

namespace {
// Changes reserved per batch at most (a Change is about 200 bytes before its rows).
constexpr size_t kMaxReserve = 4096;
}  // namespace

CopyRowDecoder::CopyRowDecoder(const TableInfo& table, const TypeOverrides& types,
                               const std::string& source_name, Lsn tag)
    : table_(table),
      id_(std::make_shared<const TableId>(TableId{source_name, table.schema, table.name})),
      tag_(tag) {
  types_.reserve(table.columns.size());
  for (const auto& c : table.columns) types_.push_back(ResolveColumnType(types, c.type_oid));
  for (const auto& k : table.key_columns) {
    for (size_t i = 0; i < table.columns.size(); ++i) {
      if (table.columns[i].name == k) key_index_.push_back(i);
    }
  }
}

bool CopyRowDecoder::Append(std::string_view line, Batch* batch) {
  if (!parser_.Parse(line)) return false;
  const std::vector<CopyField>& fields = parser_.fields();
  Change& c = batch->changes.emplace_back();
  c.op = Op::kRead;
  c.table = id_;
  c.position = Position{tag_, 0};
  Row& row = c.after.emplace();
  size_t n = std::min(table_.columns.size(), fields.size());
  row.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    row.push_back({table_.columns[i].name,
                   fields[i].null ? Value::Null() : ConvertColumn(types_[i], fields[i].text)});
  }
  c.key.reserve(key_index_.size());
  for (size_t k : key_index_) {
    if (k < row.size()) c.key.push_back(row[k]);
  }
  batch->bytes += c.ApproxBytes();
  return true;
}

Status CopyRange(PgConn& conn, const TableInfo& table, const TypeOverrides& types,
                 const std::string& source_name, const std::string& copy_sql, Lsn tag,
                 const SnapshotLimits& limits, const EmitFn& emit) {
  CopyRowDecoder decoder(table, types, source_name, tag);
  ResultPtr start(PQexec(conn.get(), copy_sql.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_OUT) {
    return ToStatus(conn.get(), start.get(), "snapshot of " + table.Qualified());
  }
  // Room for a full batch up front: growing the vector would move every change in it.
  auto new_batch = [&] {
    Batch b;
    b.changes.reserve(std::min<size_t>(limits.batch_max_changes, kMaxReserve));
    return b;
  };
  Batch batch = new_batch();
  while (true) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn.get(), &buf, 0);
    if (n == -1) break;
    if (n < 0) return ToStatus(conn.get(), nullptr, "snapshot of " + table.Qualified());
    std::string_view line(buf, static_cast<size_t>(n));
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    bool parsed = decoder.Append(line, &batch);
    PQfreemem(buf);
    if (!parsed) return Status::Internal("malformed COPY line from " + table.Qualified());
    if (batch.changes.size() >= limits.batch_max_changes || batch.bytes >= limits.batch_max_bytes) {
      if (!emit(std::move(batch), false)) return Status::Cancelled("stopping during snapshot");
      batch = new_batch();
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
