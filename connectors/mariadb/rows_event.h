// Row images of rows events (write, update, delete; version 1 as MariaDB writes them,
// version 2 as MySQL 8 does), decoded with the table map into typed cells. Pure. sluice
// decodes them itself: Connector/C's mariadb_rpl_extract_rows returns wrong values for
// several types.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/mariadb/binlog_event.h"
#include "connectors/mariadb/table_map.h"
#include "core/status.h"

namespace sluice::mariadb {

// Date and time parts of DATE, TIME, DATETIME (TIME's hours go to 838).
struct Temporal {
  bool negative = false;  // TIME only
  uint32_t year = 0, month = 0, day = 0;
  uint32_t hour = 0, minute = 0, second = 0;
  uint32_t micros = 0;
  bool operator==(const Temporal&) const = default;
};

enum class CellKind : uint8_t {
  kAbsent,  // the column is not in this image (binlog_row_image other than FULL)
  kNull,
  kInt,        // i: signed integers
  kUInt,       // u: unsigned integers
  kFloat,      // d: a FLOAT's value (exactly)
  kDouble,     // d
  kDecimal,    // text: the exact decimal, all scale digits ("-12.50")
  kBytes,      // bytes: CHAR/VARCHAR/TEXT in the column's charset, BINARY/BLOB, JSON text
  kDate,       // t
  kTime,       // t (negative allowed)
  kDateTime,   // t
  kTimestamp,  // i: seconds since the epoch (UTC), t.micros
  kYear,       // u: 0 or 1901..2155
  kBit,        // u: the bits, the column's `bits` wide
  kEnum,       // u: 1-based index into the column's values, 0 for the '' error value
  kSet,        // u: bit i set = values[i] present
  kMysqlJson,  // bytes: MySQL 8's binary JSON
};

struct Cell {
  CellKind kind = CellKind::kNull;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string_view bytes;  // views the event's bytes
  std::string text;
  Temporal t;
};

// One row of a rows event: a write has `after`, a delete `before`, an update both. Each
// holds one cell per column of the table map, in its order.
struct RowChange {
  std::vector<Cell> before;
  std::vector<Cell> after;
};

// Decodes every row of `event` with `map` (the table map its table_id names) and appends
// them to `out`. DataLoss when the bytes do not fit the map; InvalidArgument for a column
// type sluice cannot read (named, with its table).
Status DecodeRows(const RowsEvent& event, const TableMap& map, std::vector<RowChange>* out);

// One packed DECIMAL(precision, scale) value -> its exact text; false when `bytes` is not
// the size that precision and scale give.
bool DecodeDecimal(std::string_view bytes, int precision, int scale, std::string* out);
// The bytes a DECIMAL(precision, scale) takes in a row image.
size_t DecimalSize(int precision, int scale);

}  // namespace sluice::mariadb
