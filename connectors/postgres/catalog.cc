#include "connectors/postgres/catalog.h"

#include <set>

#include "connectors/postgres/type_map.h"

namespace sluice::pg {

Status CheckServer(PgConn& conn) {
  auto r = conn.Exec(
      "SELECT current_setting('wal_level'), r.rolreplication OR r.rolsuper, current_user "
      "FROM pg_roles r WHERE r.rolname = current_user");
  if (!r.ok()) return r.status();
  std::string wal_level = GetText(r->get(), 0, 0);
  if (wal_level != "logical") {
    return Status::InvalidArgument("wal_level is '" + wal_level +
                                   "', logical replication needs wal_level = logical "
                                   "(set it in postgresql.conf and restart PostgreSQL)");
  }
  if (GetText(r->get(), 0, 1) != "t") {
    return Status::InvalidArgument("role '" + GetText(r->get(), 0, 2) +
                                   "' lacks the replication privilege (ALTER ROLE " +
                                   GetText(r->get(), 0, 2) + " REPLICATION)");
  }
  return Status::Ok();
}

namespace {

constexpr const char* kTablesSql = R"SQL(
SELECT c.oid, n.nspname, c.relname, c.relreplident, c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND ($1 = '*' OR n.nspname = $1) AND ($2 = '*' OR c.relname = $2)
ORDER BY n.nspname, c.relname)SQL";

// The columns in order. From PostgreSQL 12 without generated columns, which pgoutput never
// sends (before PostgreSQL 18, and sluice does not ask for them there), so snapshot rows
// leave them out too and a row reads the same in the snapshot and in the stream.
std::string ColumnsSql(int server_version) {
  return std::string(
             "SELECT a.attname, a.atttypid FROM pg_attribute a "
             "WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped") +
         (server_version >= 120000 ? " AND a.attgenerated = ''" : "") + " ORDER BY a.attnum";
}

// The primary key, else the replica identity index.
constexpr const char* kKeySql = R"SQL(
SELECT a.attname FROM pg_index i
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident)
ORDER BY i.indisprimary DESC, k.ord)SQL";

Status LoadColumns(PgConn& conn, TableInfo* t) {
  auto cols = conn.Exec(ColumnsSql(conn.server_version()), {std::to_string(t->oid)});
  if (!cols.ok()) return cols.status();
  for (int i = 0; i < PQntuples(cols->get()); ++i) {
    t->columns.push_back({GetText(cols->get(), i, 0),
                          static_cast<uint32_t>(std::stoul(GetText(cols->get(), i, 1)))});
  }
  auto keys = conn.Exec(kKeySql, {std::to_string(t->oid)});
  if (!keys.ok()) return keys.status();
  std::set<std::string> seen;
  for (int i = 0; i < PQntuples(keys->get()); ++i) {
    std::string k = GetText(keys->get(), i, 0);
    // Only the first index's columns: primary key first, so stop at a repeat.
    if (!seen.insert(k).second) break;
    t->key_columns.push_back(k);
  }
  if (t->replica_identity == 'n') {
    return Status::InvalidArgument("table " + t->Qualified() +
                                   " has REPLICA IDENTITY NOTHING: updates and deletes cannot be "
                                   "replicated (ALTER TABLE ... REPLICA IDENTITY DEFAULT)");
  }
  if (t->key_columns.empty()) {
    return Status::InvalidArgument(
        "table " + t->Qualified() +
        " has no primary key or replica identity index, so sinks cannot address its rows: "
        "add a primary key, or ALTER TABLE ... REPLICA IDENTITY USING INDEX <unique index>");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<TableInfo>> ResolveTables(PgConn& conn,
                                             const std::vector<TableSelector>& selectors) {
  std::vector<TableInfo> out;
  std::set<uint32_t> seen;
  for (const TableSelector& sel : selectors) {
    auto r = conn.Exec(kTablesSql, {sel.schema, sel.table});
    if (!r.ok()) return r.status();
    int n = PQntuples(r->get());
    if (n == 0) {
      std::string what = sel.schema + "." + sel.table;
      if (sel.schema != "*" && sel.table != "*") {
        return Status::NotFound("table " + what + " does not exist (or is not a table)");
      }
      return Status::NotFound("selector " + what + " matches no table");
    }
    for (int i = 0; i < n; ++i) {
      TableInfo t;
      t.oid = static_cast<uint32_t>(std::stoul(GetText(r->get(), i, 0)));
      if (!seen.insert(t.oid).second) continue;
      t.schema = GetText(r->get(), i, 1);
      t.name = GetText(r->get(), i, 2);
      t.replica_identity = GetText(r->get(), i, 3).c_str()[0];
      t.estimated_rows = std::max<int64_t>(0, std::stoll(GetText(r->get(), i, 4)));
      SLUICE_RETURN_IF_ERROR(LoadColumns(conn, &t));
      out.push_back(std::move(t));
    }
  }
  return out;
}

Result<TypeOverrides> LoadTypeOverrides(PgConn& conn) {
  // Domains (typtype 'd') and arrays whose element is not a built-in type (OIDs below
  // 16384 are assigned at initdb and fixed).
  auto r = conn.Exec(
      "SELECT oid, CASE WHEN typtype = 'd' THEN typbasetype ELSE 0 END, "
      "CASE WHEN typtype <> 'd' THEN typelem ELSE 0 END FROM pg_type "
      "WHERE typtype = 'd' OR (typcategory = 'A' AND typelem >= 16384)");
  if (!r.ok()) return r.status();
  TypeOverrides out;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    TypeOverride o;
    o.base = static_cast<uint32_t>(std::stoul(GetText(r->get(), i, 1)));
    o.array_elem = static_cast<uint32_t>(std::stoul(GetText(r->get(), i, 2)));
    out[static_cast<uint32_t>(std::stoul(GetText(r->get(), i, 0)))] = o;
  }
  return out;
}

namespace {
// Follows domains to the type that has a text rule (a domain over a domain too).
uint32_t ResolveBase(const TypeOverrides& overrides, uint32_t oid) {
  for (int depth = 0; depth < 16; ++depth) {
    auto it = overrides.find(oid);
    if (it == overrides.end() || it->second.base == 0) return oid;
    oid = it->second.base;
  }
  return oid;
}
}  // namespace

ColumnType ResolveColumnType(const TypeOverrides& overrides, uint32_t type_oid) {
  if (overrides.empty()) return ColumnType{type_oid, 0};
  uint32_t oid = ResolveBase(overrides, type_oid);
  auto it = overrides.find(oid);
  if (it != overrides.end() && it->second.array_elem != 0) {
    return ColumnType{oid, ResolveBase(overrides, it->second.array_elem)};
  }
  return ColumnType{oid, 0};
}

Value ConvertColumn(const ColumnType& type, std::string_view text) {
  Value v;
  ConvertColumnInto(type, text, &v);
  return v;
}

void ConvertColumnInto(const ColumnType& type, std::string_view text, Value* out) {
  if (type.array_elem != 0) {
    *out = ConvertArrayText(type.array_elem, text);
  } else {
    ConvertTextInto(type.oid, text, out);
  }
}

Value ConvertColumn(const TypeOverrides& overrides, uint32_t type_oid, std::string_view text) {
  return ConvertColumn(ResolveColumnType(overrides, type_oid), text);
}

namespace {

// Tables from `tables` the publication lacks; nullopt if the publication does not exist.
Result<std::optional<std::vector<const TableInfo*>>> MissingFromPublication(
    PgConn& conn, const std::string& publication, const std::vector<TableInfo>& tables) {
  auto exists = conn.Exec("SELECT 1 FROM pg_publication WHERE pubname = $1", {publication});
  if (!exists.ok()) return exists.status();
  if (PQntuples(exists->get()) == 0) return std::optional<std::vector<const TableInfo*>>();
  auto r = conn.Exec("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1",
                     {publication});
  if (!r.ok()) return r.status();
  std::set<std::pair<std::string, std::string>> published;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    published.insert({GetText(r->get(), i, 0), GetText(r->get(), i, 1)});
  }
  std::vector<const TableInfo*> missing;
  for (const auto& t : tables) {
    if (!published.count({t.schema, t.name})) missing.push_back(&t);
  }
  return std::optional<std::vector<const TableInfo*>>(std::move(missing));
}

std::string TableList(PgConn& conn, const std::vector<const TableInfo*>& tables) {
  std::string out;
  for (const auto* t : tables) {
    if (!out.empty()) out += ", ";
    out += conn.Ident(t->schema) + "." + conn.Ident(t->name);
  }
  return out;
}

}  // namespace

Status EnsurePublication(PgConn& conn, const std::string& publication, bool managed,
                         const std::vector<TableInfo>& tables) {
  auto missing = MissingFromPublication(conn, publication, tables);
  if (!missing.ok()) return missing.status();
  std::vector<const TableInfo*> all;
  for (const auto& t : tables) all.push_back(&t);
  if (!missing->has_value()) {
    if (!managed) {
      return Status::NotFound("publication " + publication +
                              " does not exist (create it, or leave `publication` unset so "
                              "sluice manages its own)");
    }
    auto r = conn.Exec("CREATE PUBLICATION " + conn.Ident(publication) + " FOR TABLE " +
                       TableList(conn, all));
    return r.ok() ? Status::Ok() : r.status();
  }
  if ((*missing)->empty()) return Status::Ok();
  if (!managed) {
    return Status::InvalidArgument("publication " + publication + " does not publish " +
                                   (*missing)->front()->Qualified() +
                                   " (ALTER PUBLICATION ... ADD TABLE, or let sluice manage it)");
  }
  auto r = conn.Exec("ALTER PUBLICATION " + conn.Ident(publication) + " ADD TABLE " +
                     TableList(conn, **missing));
  return r.ok() ? Status::Ok() : r.status();
}

Status CheckPublication(PgConn& conn, const std::string& publication, bool managed,
                        const std::vector<TableInfo>& tables) {
  auto missing = MissingFromPublication(conn, publication, tables);
  if (!missing.ok()) return missing.status();
  if (managed) return Status::Ok();
  if (!missing->has_value())
    return Status::NotFound("publication " + publication + " does not exist");
  if (!(*missing)->empty()) {
    return Status::InvalidArgument("publication " + publication + " does not publish " +
                                   (*missing)->front()->Qualified());
  }
  return Status::Ok();
}

}  // namespace sluice::pg
