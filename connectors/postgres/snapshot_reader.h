// SnapshotReader: reads one key range of a table with COPY inside the caller's
// repeatable-read transaction and hands the rows on as `read` changes at the snapshot's
// position; opens the connections that share one exported snapshot.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <unordered_map>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/pg_conn.h"
#include "core/change.h"

namespace sluice::pg {

struct SnapshotLimits {
  size_t batch_max_changes = 1000;
  size_t batch_max_bytes = 1 << 20;
};

// Hands a full batch on (`last`: the range's final one, possibly empty); false when the
// reading should stop.
using EmitFn = std::function<bool(Batch&& batch, bool last)>;

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
