// SnapshotReader: reads one key range of a table with COPY inside the caller's
// repeatable-read transaction and hands the rows on as `read` changes at the snapshot's
// position; opens the connections that share one exported snapshot.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/pg_conn.h"
#include "core/change.h"
#include "core/change_pool.h"

namespace sluice::pg {

struct SnapshotLimits {
  size_t batch_max_changes = 1000;
  size_t batch_max_bytes = 1 << 20;
  std::shared_ptr<ChangePool> pool;  // spent changes to fill again; may be null
};

// Hands a full batch on (`last`: the range's final one, possibly empty); false when the
// reading should stop.
using EmitFn = std::function<bool(Batch&& batch, bool last)>;

// Turns the rows of a table's COPY into `read` changes at position (tag, 0). Column types are
// resolved once, and each value is copied once, from the row into its Value. One thread.
class CopyRowDecoder {
 public:
  // `prefer_binary`: read binary COPY rows (copy_binary.h) when every column's type has a
  // binary reading; otherwise, and by default, text lines.
  CopyRowDecoder(const TableInfo& table, const TypeOverrides& types, const std::string& source_name,
                 Lsn tag, bool prefer_binary = false);
  // The COPY's rows come in binary format (CopySql asks for it).
  bool binary() const { return binary_; }
  // `COPY (SELECT <the table's columns> <from>) TO STDOUT` in the format this decoder reads:
  // in binary, a column read as text (BinaryReading::kAsText) is selected as `column::text`.
  std::string CopySql(const PgConn& conn, const std::string& from) const;
  // Narrows one CopyData message to the row Fill takes: a text line loses its newline; in
  // binary format, false for the messages that hold no row (the file header alone, the
  // trailer).
  bool RowOf(std::string_view* message) const;
  // Overwrites every member of `c` with the change of one row (RowOf's), keeping the buffers
  // `c` already has (a spent change from a ChangePool), and sets *bytes to its
  // Change::ApproxBytes(). False when the row is malformed.
  bool Fill(std::string_view row, Change& c, size_t* bytes);

 private:
  template <typename Fields>
  bool FillFrom(Fields& fields, Change& c, size_t* bytes);

  const TableInfo& table_;
  std::shared_ptr<const TableId> id_;
  std::vector<ColumnType> types_;  // by column
  std::vector<size_t> key_index_;  // positions of the key columns
  Lsn tag_;
  bool binary_ = false;
  std::string scratch_;  // an escaped field unescaped, or a binary one as text
};

// Copies the table's rows `from` ("FROM <table> WHERE ...": RangeFrom, KeysFrom) in binary
// format when every column has a binary reading, else as text (CopyRowDecoder::CopySql).
// Every row becomes a `read` change at position (tag, 0). Cancelled when `emit` refuses a
// batch.
Status CopyRange(PgConn& conn, const TableInfo& table, const TypeOverrides& types,
                 const std::string& source_name, const std::string& from, Lsn tag,
                 const SnapshotLimits& limits, const EmitFn& emit);

// Starts a read-only repeatable-read transaction on `conn` that imports `snapshot`
// (pg_export_snapshot() or CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT): the connection then
// sees exactly what the exporting transaction sees.
Status ImportSnapshot(PgConn& conn, const std::string& snapshot);

// A new connection that imported `snapshot` (ImportSnapshot).
Result<PgConn> OpenSnapshotConn(const std::string& dsn, const std::string& snapshot);

// Connections for the snapshot readers, each opened on a thread of its own. A connection
// costs TCP, startup and authentication round trips (about 15 ms on loopback, more across a
// network); opened at once, while the replication connection opens and the slot is
// created, the readers do not wait for them one after another. One thread uses it.
class PendingConns {
 public:
  PendingConns() = default;
  PendingConns(const PendingConns&) = delete;
  PendingConns& operator=(const PendingConns&) = delete;
  ~PendingConns();
  // Starts opening `n` connections to `dsn`, closing any still held.
  void Open(const std::string& dsn, size_t n);
  // Closes any still held (waiting for those being opened).
  void Close() { pending_.clear(); }
  // `n` connections: those Open started (waiting for them), and the rest opened now, at
  // once. The first failure is returned; nothing is held afterwards.
  Result<std::vector<PgConn>> Take(const std::string& dsn, size_t n);

 private:
  void Launch(const std::string& dsn, size_t n);  // starts opening `n` more

  std::vector<std::future<Result<PgConn>>> pending_;
};

}  // namespace sluice::pg
