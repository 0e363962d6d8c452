// TableMap: what a TABLE_MAP event says of a table before its rows events: the column types
// and their metadata and, with binlog_row_metadata=FULL, column names, signedness,
// character sets, ENUM/SET values and the primary key. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sluice::mariadb {

// Column type codes as the binary log writes them (enum_field_types).
enum ColumnType : uint8_t {
  kTypeDecimal = 0,  // the pre-5.0 DECIMAL; never written by current servers
  kTypeTiny = 1,
  kTypeShort = 2,
  kTypeLong = 3,
  kTypeFloat = 4,
  kTypeDouble = 5,
  kTypeNull = 6,
  kTypeTimestamp = 7,  // old format, whole seconds
  kTypeLongLong = 8,
  kTypeInt24 = 9,
  kTypeDate = 10,
  kTypeTime = 11,      // old format, whole seconds
  kTypeDateTime = 12,  // old format, whole seconds
  kTypeYear = 13,
  kTypeNewDate = 14,
  kTypeVarchar = 15,
  kTypeBit = 16,
  kTypeTimestamp2 = 17,
  kTypeDateTime2 = 18,
  kTypeTime2 = 19,
  kTypeJson = 245,  // MySQL's binary JSON; MariaDB's JSON is a LONGTEXT (kTypeBlob)
  kTypeNewDecimal = 246,
  kTypeEnum = 247,
  kTypeSet = 248,
  kTypeTinyBlob = 249,
  kTypeMediumBlob = 250,
  kTypeLongBlob = 251,
  kTypeBlob = 252,
  kTypeVarString = 253,
  kTypeString = 254,  // CHAR, BINARY, and (by the metadata's real type) ENUM and SET
  kTypeGeometry = 255,
};

inline constexpr uint16_t kBinaryCollation = 63;  // the `binary` character set

struct Column {
  ColumnType type = kTypeNull;       // as written; for kTypeString the real type is below
  ColumnType real_type = kTypeNull;  // kTypeString, kTypeEnum or kTypeSet for CHAR-like ones
  // Type metadata: max length (VARCHAR, CHAR), length bytes (BLOB), fsp (TIME2, ...),
  // pack length (FLOAT/DOUBLE), precision and scale (DECIMAL), bits (BIT).
  uint32_t length = 0;
  uint8_t precision = 0, scale = 0;  // DECIMAL
  uint8_t fsp = 0;                   // fractional second digits of TIME2/DATETIME2/TIMESTAMP2
  uint16_t bits = 0;                 // BIT(n)
  bool nullable = true;
  // From the optional metadata (binlog_row_metadata=FULL; absent otherwise).
  std::string name;
  bool is_unsigned = false;
  uint16_t collation = 0;           // character columns and ENUM/SET; 0 when not told
  std::vector<std::string> values;  // ENUM or SET members, in order
  uint8_t geometry_type = 0;
  // MariaDB's UUID, INET4 and INET6 are logged as BINARY(16/4/16); the table map does not
  // say which they are. The source sets this from information_schema.COLUMNS.
  enum class Logical : uint8_t { kNone, kUuid, kInet4, kInet6 };
  Logical logical = Logical::kNone;

  // Whether the column holds text in a character set (CHAR, VARCHAR, TEXT, ENUM, SET):
  // what the metadata's charset lists cover.
  bool is_character() const;
  bool is_enum_or_set() const { return real_type == kTypeEnum || real_type == kTypeSet; }
  bool is_numeric() const;
};

struct TableMap {
  uint64_t table_id = 0;
  std::string database;
  std::string table;
  std::vector<Column> columns;
  std::vector<size_t> primary_key;  // column indexes, in key order
  bool has_names = false;           // the map carried column names (binlog_row_metadata=FULL)
};

// Decodes a TABLE_MAP event's post-header and body (the bytes after the common header,
// checksum removed). DataLoss when the bytes do not hold such an event.
Result<TableMap> DecodeTableMap(std::string_view body, uint8_t table_id_bytes);

}  // namespace sluice::mariadb
