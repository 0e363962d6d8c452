// Catalog look-ups the PostgreSQL source needs before it reads: server settings, the tables a
// pipeline's selectors name, their columns and keys, and the publication that covers them.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/postgres/pg_conn.h"
#include "core/source.h"

namespace sluice::pg {

struct ColumnInfo {
  std::string name;
  uint32_t type_oid = 0;  // domains already resolved to their base type
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
Result<std::vector<TableInfo>> ResolveTables(PgConn& conn, const std::vector<TableSelector>& selectors);

// Domain type oid -> base type oid, for every domain in the database.
Result<std::unordered_map<uint32_t, uint32_t>> LoadDomainBaseTypes(PgConn& conn);

// Makes sure `publication` exists and publishes every table. A publication sluice manages
// (`managed`) is created or extended; a user's own publication that lacks a table is an error.
Status EnsurePublication(PgConn& conn, const std::string& publication, bool managed,
                         const std::vector<TableInfo>& tables);

// Checks without changing anything: the publication exists and covers the tables (if it
// exists and is managed by us, a missing publication is fine: run will create it).
Status CheckPublication(PgConn& conn, const std::string& publication, bool managed,
                        const std::vector<TableInfo>& tables);

}  // namespace sluice::pg
