#include "connectors/postgres/toast_lookup.h"

#include <map>
#include <set>

namespace sluice::pg {

namespace {

// The changes of one table that lack a value, and the columns they lack.
struct Wanted {
  std::shared_ptr<const TableId> table;
  std::vector<Change*> changes;
  std::set<std::string> columns;
};

// The key's values as one string, for matching rows to changes.
std::string KeyText(const Row& key) {
  std::string out;
  for (const auto& f : key) out += f.value.text + '\x1f';
  return out;
}

std::string Select(const PgConn& conn, const Wanted& w) {
  const Row& key = w.changes.front()->key;
  std::string keys;
  for (const auto& f : key) keys += (keys.empty() ? "" : ", ") + conn.Ident(f.name);
  std::string cols = keys;
  for (const auto& c : w.columns) cols += ", " + conn.Ident(c);
  std::string in;
  for (const Change* c : w.changes) {
    std::string row;
    for (const auto& f : c->key) row += (row.empty() ? "" : ", ") + conn.Literal(f.value.text);
    in += (in.empty() ? "" : ", ") + ("ROW(" + row + ")");
  }
  return "SELECT " + cols + " FROM " + conn.Ident(w.table->schema) + "." +
         conn.Ident(w.table->name) + " WHERE ROW(" + keys + ") IN (" + in + ")";
}

Status Fill(PgConn& conn, const TypeOverrides& types, const Wanted& w, Batch* batch) {
  auto r = conn.Exec(Select(conn, w));
  if (!r.ok()) return r.status().WithContext("toast lookup in " + w.table->ToString());
  PGresult* res = r->get();
  size_t nkeys = w.changes.front()->key.size();
  // Current rows by key, each column converted with the type the server reports now.
  std::map<std::string, Row> current;
  for (int i = 0; i < PQntuples(res); ++i) {
    Row key;
    Row values;
    for (int c = 0; c < PQnfields(res); ++c) {
      Value v = PQgetisnull(res, i, c) ? Value::Null()
                                       : ConvertColumn(types, PQftype(res, c), GetText(res, i, c));
      (static_cast<size_t>(c) < nkeys ? key : values).push_back({PQfname(res, c), std::move(v)});
    }
    current[KeyText(key)] = std::move(values);
  }
  for (Change* c : w.changes) {
    auto it = current.find(KeyText(c->key));
    if (it == current.end()) continue;
    size_t before = c->ApproxBytes();
    for (Field& f : *c->after) {
      if (!f.value.is_unchanged()) continue;
      if (const Field* now = FindField(it->second, f.name)) f.value = now->value;
    }
    batch->bytes += c->ApproxBytes() - before;  // the queues budget what the batch holds
  }
  return Status::Ok();
}

}  // namespace

Status FillUnchanged(PgConn& conn, const TypeOverrides& types, Batch* batch) {
  std::map<std::pair<std::string, std::string>, Wanted> wanted;
  for (Change& c : batch->changes) {
    if (!c.after || c.key.empty()) continue;
    for (const Field& f : *c.after) {
      if (!f.value.is_unchanged()) continue;
      Wanted& w = wanted[{c.table->schema, c.table->name}];
      w.table = c.table;
      if (w.changes.empty() || w.changes.back() != &c) w.changes.push_back(&c);
      w.columns.insert(f.name);
    }
  }
  for (const auto& [name, w] : wanted) SLUICE_RETURN_IF_ERROR(Fill(conn, types, w, batch));
  return Status::Ok();
}

}  // namespace sluice::pg
