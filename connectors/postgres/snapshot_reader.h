// SnapshotReader: reads one key range of a table with COPY inside the caller's
// repeatable-read transaction and hands the rows on as `read` changes at the snapshot's
// position; opens the connections that share one exported snapshot.
#pragma once

#include <atomic>
#include <functional>
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

// Turns the lines of a table's COPY into `read` changes at position (tag, 0). Column types are
// resolved once, and each value is copied once, from the line into its Value. One thread.
class CopyRowDecoder {
 public:
  CopyRowDecoder(const TableInfo& table, const TypeOverrides& types, const std::string& source_name,
                 Lsn tag);
  // Overwrites every member of `c` with the change of one line (without its newline),
  // keeping the buffers `c` already has (a spent change from a ChangePool), and sets *bytes
  // to its Change::ApproxBytes(). False when the line is malformed.
  bool Fill(std::string_view line, Change& c, size_t* bytes);

 private:
  const TableInfo& table_;
  std::shared_ptr<const TableId> id_;
  std::vector<ColumnType> types_;  // by column
  std::vector<size_t> key_index_;  // positions of the key columns
  Lsn tag_;
  std::string scratch_;  // an escaped field, unescaped
};

// Runs `copy_sql` (a `COPY (SELECT <table's columns> ...) TO STDOUT`). Every row becomes a
// `read` change at position (tag, 0). Cancelled when `emit` refuses a batch.
Status CopyRange(PgConn& conn, const TableInfo& table, const TypeOverrides& types,
                 const std::string& source_name, const std::string& copy_sql, Lsn tag,
                 const SnapshotLimits& limits, const EmitFn& emit);

// A connection inside a read-only repeatable-read transaction that imported `snapshot`
// (pg_export_snapshot() or CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT): it sees exactly
// what the exporting transaction sees.
Result<PgConn> OpenSnapshotConn(const std::string& dsn, const std::string& snapshot);

}  // namespace sluice::pg
