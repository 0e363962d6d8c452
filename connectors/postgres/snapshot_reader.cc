#include "connectors/postgres/snapshot_reader.h"

#include <algorithm>

#include "connectors/postgres/copy_binary.h"
#include "connectors/postgres/copy_text.h"
#include "connectors/postgres/type_map.h"

namespace sluice::pg {

namespace {
// Changes reserved per batch at most (a Change is about 200 bytes before its rows).
constexpr size_t kMaxReserve = 4096;
}  // namespace

CopyRowDecoder::CopyRowDecoder(const TableInfo& table, const TypeOverrides& types,
                               const std::string& source_name, Lsn tag, bool prefer_binary)
    : table_(table),
      id_(std::make_shared<const TableId>(TableId{source_name, table.schema, table.name})),
      tag_(tag),
      binary_(prefer_binary) {
  types_.reserve(table.columns.size());
  for (const auto& c : table.columns) {
    types_.push_back(ResolveColumnType(types, c.type_oid));
    if (types_.back().array_elem != 0 ||
        BinaryReadingOf(types_.back().oid) == BinaryReading::kNone) {
      binary_ = false;
    }
  }
  for (const auto& k : table.key_columns) {
    for (size_t i = 0; i < table.columns.size(); ++i) {
      if (table.columns[i].name == k) key_index_.push_back(i);
    }
  }
}

namespace {

void SetName(std::string& name, const std::string& want) {
  if (name != want) name.assign(want);
}

// What Change::ApproxBytes counts for one field.
size_t FieldBytes(const Field& f) {
  return (f.name.size() > 15 ? f.name.size() : 0) +
         (f.value.text.size() > 15 ? f.value.text.size() : 0);
}

// The fields of a text line, each converted from its text.
class TextFields : public CopyFieldReader {
 public:
  using CopyFieldReader::CopyFieldReader;
  static bool Convert(const ColumnType& type, std::string_view text, Value* out, std::string*) {
    ConvertColumnInto(type, text, out);
    return true;
  }
};

// The fields of a binary row, each converted from its send form.
class BinaryFields {
 public:
  explicit BinaryFields(std::string_view row) { started_ = reader_.Start(row); }
  // The next field's bytes, as CopyFieldReader::Next gives a field's text.
  bool Next(CopyField* field, std::string*) {
    return started_ && reader_.Next(&field->null, &field->text);
  }
  static bool Convert(const ColumnType& type, std::string_view bytes, Value* out,
                      std::string* scratch) {
    return BinaryFieldInto(type.oid, bytes, scratch, out);
  }
  bool malformed() const { return !started_ || reader_.malformed(); }

 private:
  CopyBinaryReader reader_;
  bool started_ = false;
};

}  // namespace

std::string CopyRowDecoder::CopySql(const PgConn& conn, const std::string& from) const {
  std::string sql = "COPY (SELECT ";
  for (size_t i = 0; i < table_.columns.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += conn.Ident(table_.columns[i].name);
    if (binary_ && BinaryReadingOf(types_[i].oid) == BinaryReading::kAsText) sql += "::text";
  }
  sql += " " + from + ") TO STDOUT";
  if (binary_) sql += " (FORMAT binary)";
  return sql;
}

bool CopyRowDecoder::RowOf(std::string_view* message) const {
  if (!binary_) {
    if (!message->empty() && message->back() == '\n') message->remove_suffix(1);
    return true;
  }
  CopyBinaryReader reader;
  return reader.Start(*message) || reader.malformed();
}

bool CopyRowDecoder::Fill(std::string_view row, Change& c, size_t* bytes) {
  if (binary_) {
    BinaryFields fields(row);
    return FillFrom(fields, c, bytes);
  }
  TextFields fields(row);
  return FillFrom(fields, c, bytes);
}

template <typename Fields>
bool CopyRowDecoder::FillFrom(Fields& reader, Change& c, size_t* bytes) {
  c.op = Op::kRead;
  if (c.table != id_) c.table = id_;
  c.position = Position{tag_, 0};
  c.commit_time_us = 0;
  c.xid = 0;
  c.old_key.reset();
  c.before.reset();
  Row& row = c.after ? *c.after : c.after.emplace();
  const size_t columns = table_.columns.size();
  row.resize(columns);
  size_t n = sizeof(Change);
  CopyField field;
  size_t i = 0;
  for (; i < columns && reader.Next(&field, &scratch_); ++i) {
    Field& f = row[i];
    SetName(f.name, table_.columns[i].name);
    if (field.null) {
      f.value.kind = ValueKind::kNull;
      FitBuffer(f.value.text, 0);
      f.value.text.clear();
    } else {
      FitBuffer(f.value.text, field.text.size());
      if (!reader.Convert(types_[i], field.text, &f.value, &scratch_)) return false;
    }
    n += FieldBytes(f);
  }
  // Fields beyond the table's columns are ignored; a short line gives a short row.
  while (reader.Next(&field, &scratch_)) {
  }
  if (reader.malformed()) return false;
  if (i < columns) row.resize(i);
  size_t keys = 0;
  for (size_t k : key_index_) keys += k < row.size() ? 1 : 0;
  c.key.resize(keys);
  size_t j = 0;
  for (size_t k : key_index_) {
    if (k >= row.size()) continue;
    Field& key = c.key[j++];
    SetName(key.name, row[k].name);
    key.value.kind = row[k].value.kind;
    FitBuffer(key.value.text, row[k].value.text.size());
    key.value.text.assign(row[k].value.text);
    n += FieldBytes(key);
  }
  *bytes = n + (row.capacity() + c.key.capacity()) * sizeof(Field);
  return true;
}

Status CopyRange(PgConn& conn, const TableInfo& table, const TypeOverrides& types,
                 const std::string& source_name, const std::string& from, Lsn tag,
                 const SnapshotLimits& limits, const EmitFn& emit) {
  CopyRowDecoder decoder(table, types, source_name, tag, /*prefer_binary=*/true);
  const std::string sql = decoder.CopySql(conn, from);
  ResultPtr start(PQexec(conn.get(), sql.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_OUT) {
    return ToStatus(conn.get(), start.get(), "snapshot of " + table.Qualified());
  }
  // A batch starts as spent changes from the pool, overwritten in place, or with room for a
  // full batch up front (growing the vector would move every change in it).
  auto new_batch = [&] {
    Batch b;
    if (limits.pool) b.changes = limits.pool->Take();
    if (b.changes.empty()) {
      b.changes.reserve(std::min<size_t>(limits.batch_max_changes, kMaxReserve));
    }
    return b;
  };
  Batch batch = new_batch();
  size_t used = 0;  // changes of `batch` filled; any after them are spent ones
  auto hand_on = [&](bool last) {
    batch.changes.resize(used);
    used = 0;
    return emit(std::move(batch), last);
  };
  while (true) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn.get(), &buf, 0);
    if (n == -1) break;
    if (n < 0) return ToStatus(conn.get(), nullptr, "snapshot of " + table.Qualified());
    std::string_view line(buf, static_cast<size_t>(n));
    if (!decoder.RowOf(&line)) {
      PQfreemem(buf);
      continue;
    }
    Change& c = used < batch.changes.size() ? batch.changes[used] : batch.changes.emplace_back();
    size_t bytes = 0;
    bool parsed = decoder.Fill(line, c, &bytes);
    PQfreemem(buf);
    if (!parsed) return Status::Internal("malformed COPY line from " + table.Qualified());
    ++used;
    batch.bytes += bytes;
    if (used >= limits.batch_max_changes || batch.bytes >= limits.batch_max_bytes) {
      if (!hand_on(false)) return Status::Cancelled("stopping during snapshot");
      batch = new_batch();
    }
  }
  ResultPtr end(PQgetResult(conn.get()));
  if (!end || PQresultStatus(end.get()) != PGRES_COMMAND_OK) {
    return ToStatus(conn.get(), end.get(), "snapshot of " + table.Qualified());
  }
  while (ResultPtr extra{PQgetResult(conn.get())}) {
  }
  if (!hand_on(true)) return Status::Cancelled("stopping during snapshot");
  return Status::Ok();
}

Status ImportSnapshot(PgConn& conn, const std::string& snapshot) {
  auto begin = conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!begin.ok()) return begin.status();
  auto imp = conn.Exec("SET TRANSACTION SNAPSHOT " + conn.Literal(snapshot));
  return imp.ok() ? Status::Ok() : imp.status();
}

Result<PgConn> OpenSnapshotConn(const std::string& dsn, const std::string& snapshot) {
  auto conn = PgConn::Connect(dsn, false);
  if (!conn.ok()) return conn.status();
  SLUICE_RETURN_IF_ERROR(ImportSnapshot(*conn, snapshot));
  return conn;
}

PendingConns::~PendingConns() = default;  // each future waits for its connection

void PendingConns::Open(const std::string& dsn, size_t n) {
  pending_.clear();
  Launch(dsn, n);
}

void PendingConns::Launch(const std::string& dsn, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    pending_.push_back(
        std::async(std::launch::async, [dsn] { return PgConn::Connect(dsn, false); }));
  }
}

Result<std::vector<PgConn>> PendingConns::Take(const std::string& dsn, size_t n) {
  if (pending_.size() < n) Launch(dsn, n - pending_.size());
  std::vector<std::future<Result<PgConn>>> pending = std::move(pending_);
  pending_.clear();
  std::vector<PgConn> conns;
  Status first;
  for (size_t i = 0; i < pending.size(); ++i) {
    auto conn = pending[i].get();
    if (!conn.ok()) {
      if (first.ok()) first = conn.status();
    } else if (i < n) {
      conns.push_back(std::move(conn).value());
    }
  }
  if (!first.ok()) return first;
  return conns;
}

}  // namespace sluice::pg
