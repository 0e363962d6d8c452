// Catalog look-ups the PostgreSQL source needs before it reads: server settings, the tables a
// pipeline's selectors name, their columns and keys, and the publication that covers them.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/postgres/pg_conn.h"
#include "core/source.h"
#include "core/value.h"

namespace sluice::pg {

struct ColumnInfo {
  std::string name;
  uint32_t type_oid = 0;  // pg_attribute.atttypid, as pgoutput reports it
};

struct TableInfo {
  uint32_t oid = 0;
  std::string schema;
  std::string name;
  char replica_identity = 'd';  // d default, f full, i index, n nothing
  std::vector<ColumnInfo> columns;
  std::vector<std::string> key_columns;  // primary key, or the replica identity index
  int64_t estimated_rows = 0;
  std::string Qualified() const { return schema + "." + name; }
};

// wal_level = logical, and the role may replicate (REPLICATION attribute or superuser).
Status CheckServer(PgConn& conn);

// The tables the selectors name, in a stable order. Each must exist, be a regular or
// partitioned table, and have a key sinks can address rows by.
Result<std::vector<TableInfo>> ResolveTables(PgConn& conn,
                                             const std::vector<TableSelector>& selectors);

// How to read a type whose OID is database-specific: a domain reads as its base type, an
// array of a user-defined type (enum[], citext[], a domain's array) as a JSON array of
// its element type.
struct TypeOverride {
  uint32_t base = 0;        // domain: the built-in (or user) type it is based on
  uint32_t array_elem = 0;  // array of a user-defined type: its element type
};
using TypeOverrides = std::unordered_map<uint32_t, TypeOverride>;

// Every domain and every array of a non-built-in type in the database.
Result<TypeOverrides> LoadTypeOverrides(PgConn& conn);

// A column's type with the database's own types resolved (domains to their base type, arrays
// of user-defined types to their element type): resolved once per column, it converts every
// value of the column without looking anything up.
struct ColumnType {
  uint32_t oid = 0;         // the type ConvertText applies, unless array_elem is set
  uint32_t array_elem = 0;  // an array of a user-defined type: its (resolved) element type
};
ColumnType ResolveColumnType(const TypeOverrides& overrides, uint32_t type_oid);

// ConvertText for a resolved column type.
Value ConvertColumn(const ColumnType& type, std::string_view text);
// ConvertColumn into `out`, reusing its buffer where ConvertTextInto can.
void ConvertColumnInto(const ColumnType& type, std::string_view text, Value* out);

// ConvertText with the database's own types resolved first.
Value ConvertColumn(const TypeOverrides& overrides, uint32_t type_oid, std::string_view text);

// Makes sure `publication` exists and publishes every table. A publication sluice manages
// (`managed`) is created or extended; a user's own publication that lacks a table is an error.
Status EnsurePublication(PgConn& conn, const std::string& publication, bool managed,
                         const std::vector<TableInfo>& tables);

// Checks without changing anything: the publication exists and covers the tables (if it
// exists and is managed by us, a missing publication is fine: run will create it).
Status CheckPublication(PgConn& conn, const std::string& publication, bool managed,
                        const std::vector<TableInfo>& tables);

}  // namespace sluice::pg
