// PostgresSource::Describe: the piped tables' columns and keys, for `sluice check --connect`.
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
    TableSchema s{TableId{ctx_.source, t.schema, t.name}, {}, t.key_columns};
    for (const ColumnInfo& c : t.columns) s.columns.push_back(c.name);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace sluice::pg
