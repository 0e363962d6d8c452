// Decoded rows of one rows event -> sluice Changes (insert, update, delete), keyed by the
// table map's primary key. Pure.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "connectors/mariadb/rows_event.h"
#include "connectors/mariadb/table_map.h"
#include "core/change.h"
#include "core/status.h"

namespace sluice::mariadb {

// Where the changes of one transaction are placed: its position, the seq of its next
// change (from 1: a snapshot row of the same position has seq 0), its commit time and id.
struct TxnPlace {
  Lsn position;
  uint64_t next_seq = 1;
  int64_t commit_time_us = 0;
  uint32_t xid = 0;
};

// Appends one Change per row of `rows` to `out`, advancing `place->next_seq`. A row
// becomes a Row of every column, named from the map (binlog_row_metadata=FULL); an update
// that changes the key carries the old key. InvalidArgument when the map has no column
// names or no primary key, or a value cannot be converted (named, with the table).
Status RowsToChanges(RowsEvent::Kind kind, const TableMap& map,
                     const std::shared_ptr<const TableId>& table,
                     const std::vector<RowChange>& rows, TxnPlace* place, std::vector<Change>* out);

// The cells of one image as a Row.
Result<Row> CellsToRow(const TableMap& map, const std::vector<Cell>& cells);
// The key columns of `row`, in key order.
Row KeyOf(const TableMap& map, const Row& row);

}  // namespace sluice::mariadb
