// PostgresSource::Describe: the piped tables' columns and keys, for `sluice check --connect`.
#include <libpq-fe.h>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/postgres_source.h"

namespace sluice::pg {

Result<std::vector<TableSchema>> PostgresSource::Describe() {
  auto conn = PgConn::Connect(options_.dsn, false);
  if (!conn.ok()) return conn.status();
  auto tables = ResolveTables(*conn, ctx_.tables);
  if (!tables.ok()) return tables.status();
  std::vector<TableSchema> out;
  for (const TableInfo& t : *tables) {
    TableSchema s{TableId{ctx_.source, t.schema, t.name}, {}, t.key_columns, {}};
    for (const ColumnInfo& c : t.columns) s.columns.push_back(c.name);
    // pgoutput leaves out an unchanged value stored out of line (TOAST), unless the table
    // logs whole old rows (REPLICA IDENTITY FULL) or sluice looks the values up. Only
    // variable-length types whose storage is not `plain` can be stored out of line.
    if (!options_.toast_lookup && t.replica_identity != 'f') {
      auto r = conn->Exec(
          "SELECT a.attname FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid "
          "WHERE a.attrelid = " +
          std::to_string(t.oid) +
          " AND a.attnum > 0 AND NOT a.attisdropped AND ty.typlen = -1 "
          "AND a.attstorage <> 'p' ORDER BY a.attnum");
      if (!r.ok()) return r.status();
      for (int i = 0; i < PQntuples(r->get()); ++i) {
        s.may_be_unchanged.push_back(GetText(r->get(), i, 0));
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace sluice::pg
