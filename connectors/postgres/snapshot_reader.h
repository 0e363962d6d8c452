// SnapshotReader: reads whole tables with COPY inside the caller's repeatable-read
// transaction and hands the rows on as `read` changes at the snapshot's position.
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

// Hands a full batch on; false when the pipeline is stopping.
using EmitFn = std::function<bool(Batch&&)>;

// Reads `table` in full. Every row becomes a `read` change at position (tag, 0). The last
// batch of the table (possibly empty) carries `last_checkpoint`, so the caller learns when
// the whole table is durable. Cancelled when `emit` refuses a batch.
Status CopyTable(PgConn& conn, const TableInfo& table, const TypeOverrides& types,
                 const std::string& source_name, Lsn tag, const Checkpoint& last_checkpoint,
                 const SnapshotLimits& limits, const EmitFn& emit, int64_t* rows_read);

}  // namespace sluice::pg
