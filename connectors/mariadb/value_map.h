// MariaDB column values -> sluice::Value, from both places a value comes from: a decoded
// row-image cell (the binary log) and the text protocol (the snapshot's SELECT). Both give
// the same Value for the same stored value, so a snapshot row and a streamed row are equal
// byte for byte. Pure, apart from Connector/C's character set tables.
//
// The line format (README "MariaDB source"):
//   integers, YEAR, BIT -> kInt (BIGINT UNSIGNED and BIT(64) up to 2^64-1);
//   DECIMAL -> kNumeric, exact, all scale digits ("-12.50");
//   FLOAT, DOUBLE -> kFloat, the shortest text that reads back as the same float/double;
//   CHAR, VARCHAR, TEXT, ENUM, SET, JSON -> kString in UTF-8 (from the column's charset);
//   BINARY, VARBINARY, BLOB -> kString base64 (BINARY(n) padded with zero bytes to n);
//   UUID, INET4, INET6 -> kString in their text forms;
//   DATE -> "2026-11-24"; TIME -> "-838:59:59.000000" (fsp digits, as MariaDB prints it);
//   DATETIME -> "2026-11-24T10:00:00.5" (fsp digits); TIMESTAMP -> the same in UTC with "Z".
#pragma once

#include <cstdint>
#include <string_view>

#include "connectors/mariadb/rows_event.h"
#include "connectors/mariadb/table_map.h"
#include "core/status.h"
#include "core/value.h"

namespace sluice::mariadb {

// How a column's values are rendered.
enum class ValueClass : uint8_t {
  kInt,  // signed or unsigned integers, YEAR
  kBit,
  kDecimal,
  kFloat,
  kDouble,
  kText,    // character data: CHAR, VARCHAR, TEXT (and JSON, which MariaDB keeps as text)
  kBinary,  // BINARY, VARBINARY, BLOB
  kDate,
  kTime,
  kDateTime,
  kTimestamp,
  kEnum,
  kSet,
  kUuid,         // MariaDB 10.7+ UUID: "123e4567-e89b-12d3-a456-426614174000"
  kInet4,        // "192.168.0.1"
  kInet6,        // "2001:db8::ff00:42:8329", as inet_ntop writes it
  kUnsupported,  // GEOMETRY, MySQL's binary JSON, the pre-5.0 DECIMAL
};

// The class of a column as a table map describes it.
ValueClass ClassOf(const Column& column);

// A decoded cell of `column` -> its Value. Character data is converted from the column's
// collation to UTF-8; InvalidArgument when that fails or the class is unsupported.
Result<Value> CellToValue(const Cell& cell, const Column& column);

// A value as the text protocol returns it (connection charset utf8mb4, time_zone '+00:00')
// -> its Value. `text` of a FLOAT column must be the value read as DOUBLE (the SELECT
// casts it: MariaDB prints a FLOAT with 6 digits, fewer than its value holds).
Value TextToValue(ValueClass cls, std::string_view text);

}  // namespace sluice::mariadb
