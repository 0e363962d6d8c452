#include "sinks/elasticsearch/es_builder.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "core/json_writer.h"

namespace sluice::es {

namespace {

// Elasticsearch refuses longer _ids ("id [...] is too long, must be no longer than 512
// bytes"), and it does so for the whole _bulk request, so such a change is caught here.
constexpr size_t kMaxIdBytes = 512;

// Replaces every {name} in `tmpl` by lookup(name); fails on a name lookup does not know.
template <typename Lookup>
Result<std::string> Expand(const std::string& tmpl, Lookup lookup) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find('{', i);
    if (open == std::string::npos) {
      out.append(tmpl, i, std::string::npos);
      break;
    }
    size_t close = tmpl.find('}', open);
    if (close == std::string::npos)
      return Status::InvalidArgument("unclosed '{' in '" + tmpl + "'");
    out.append(tmpl, i, open - i);
    Result<std::string> v = lookup(tmpl.substr(open + 1, close - open - 1));
    if (!v.ok()) return v.status();
    out += v.value();
    i = close + 1;
  }
  return out;
}

const Field* FindUsable(const Row* row, const std::string& name) {
  if (!row) return nullptr;
  const Field* f = FindField(*row, name);
  return f && !f->value.is_unchanged() ? f : nullptr;
}

Result<std::string> RoutingOf(const std::string& column, const Change& c,
                              std::initializer_list<const Row*> rows) {
  for (const Row* row : rows) {
    const Field* f = FindUsable(row, column);
    if (f && !f->value.is_null()) return f->value.text;
  }
  return Status::Rejected("routing column '" + column + "' has no value in this " + OpName(c.op) +
                          " (put it in the key, or use REPLICA IDENTITY FULL)");
}

// The row to index: unchanged TOAST columns are taken from the old row when the change has
// it (REPLICA IDENTITY FULL logs the old row in full), else the change is refused: the
// document is replaced whole, and leaving the column out would lose the stored value.
Result<Row> DocumentRow(const Change& c) {
  Row row = *c.after;
  for (Field& f : row) {
    if (!f.value.is_unchanged()) continue;
    const Field* old = FindUsable(c.before ? &*c.before : nullptr, f.name);
    if (!old) {
      return Status::Rejected(
          "unchanged TOAST column '" + f.name + "' in " + OpName(c.op) + " of " +
          c.table->ToString() + " at " + c.position.lsn.ToString() +
          ": the change does not carry its value and documents are replaced whole; set "
          "REPLICA IDENTITY FULL on the table so sluice takes the value from the old row");
    }
    f.value = old->value;
  }
  return row;
}

}  // namespace

Result<std::string> RenderIndex(const std::string& tmpl, const TableId& table,
                                const std::string& target) {
  auto name = Expand(tmpl, [&](const std::string& n) -> Result<std::string> {
    if (n == "target") return target.empty() ? table.name : target;
    if (n == "source") return table.source;
    if (n == "schema") return table.schema;
    if (n == "table") return table.name;
    return Status::InvalidArgument("unknown placeholder {" + n + "} in index '" + tmpl +
                                   "' (use {target}, {source}, {schema}, {table})");
  });
  if (!name.ok()) return name;
  std::string s = std::move(name).value();
  if (s.empty())
    return Status::InvalidArgument("index template '" + tmpl + "' gives an empty name");
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

Result<std::string> RenderId(const std::string& tmpl, const Row& key, const Row* row) {
  Result<std::string> id = std::string();
  if (tmpl.empty()) {
    std::string joined;
    for (size_t i = 0; i < key.size(); ++i) {
      if (key[i].value.is_null())
        return Status::Rejected("key column '" + key[i].name + "' is null");
      joined += (i ? ":" : "") + key[i].value.text;
    }
    id = joined;
  } else {
    id = Expand(tmpl, [&](const std::string& col) -> Result<std::string> {
      const Field* f = FindUsable(&key, col);
      if (!f) f = FindUsable(row, col);
      if (!f || f->value.is_null()) {
        return Status::Rejected("id template column '" + col + "' has no value");
      }
      return f->value.text;
    });
  }
  if (!id.ok()) return id;
  if (id->empty()) return Status::Rejected("document _id is empty");
  if (id->size() > kMaxIdBytes) return Status::Rejected("document _id is longer than 512 bytes");
  return id;
}

Result<std::vector<BulkItem>> ItemsFor(const Change& c, const EsSinkOptions& options,
                                       const std::string& target) {
  std::vector<BulkItem> items;
  if (c.op == Op::kTruncate) return items;
  auto index = RenderIndex(options.index_template, *c.table, target);
  if (!index.ok()) return index.status();
  const Row* before = c.before ? &*c.before : nullptr;
  auto base = [&](BulkItem::Action action) {
    BulkItem item;
    item.action = action;
    item.index = index.value();
    item.version = c.position.lsn.value();
    item.seq = c.position.seq;
    item.change = c;
    return item;
  };

  if (c.op == Op::kDelete) {
    BulkItem del = base(BulkItem::Action::kDelete);
    auto id = RenderId(options.id_template, c.key, before);
    if (!id.ok()) return id.status();
    del.id = std::move(id).value();
    if (!options.routing_column.empty()) {
      auto r = RoutingOf(options.routing_column, c, {&c.key, before});
      if (!r.ok()) return r.status();
      del.routing = std::move(r).value();
    }
    items.push_back(std::move(del));
    return items;
  }

  if (!c.after) return Status::Rejected(std::string(OpName(c.op)) + " without a new row");
  auto row = DocumentRow(c);
  if (!row.ok()) return row.status();
  if (c.old_key) {
    // The key changed: the document under the old _id must go, or it would be orphaned.
    BulkItem del = base(BulkItem::Action::kDelete);
    auto old_id = RenderId(options.id_template, *c.old_key, before);
    if (!old_id.ok()) return old_id.status();
    del.id = std::move(old_id).value();
    if (!options.routing_column.empty()) {
      auto r = RoutingOf(options.routing_column, c, {&*c.old_key, before});
      if (!r.ok()) return r.status();
      del.routing = std::move(r).value();
    }
    items.push_back(std::move(del));
  }
  BulkItem put = base(BulkItem::Action::kIndex);
  auto id = RenderId(options.id_template, c.key, &row.value());
  if (!id.ok()) return id.status();
  put.id = std::move(id).value();
  if (!options.routing_column.empty()) {
    auto r = RoutingOf(options.routing_column, c, {&c.key, &row.value()});
    if (!r.ok()) return r.status();
    put.routing = std::move(r).value();
  }
  JsonWriter w(&put.source);
  w.RowObject(row.value());
  items.push_back(std::move(put));
  return items;
}

void AppendBulkItem(const BulkItem& item, std::string* out) {
  JsonWriter w(out);
  w.BeginObject();
  w.Key(item.action == BulkItem::Action::kIndex ? "index" : "delete");
  w.BeginObject();
  w.Key("_index");
  w.String(item.index);
  w.Key("_id");
  w.String(item.id);
  if (!item.routing.empty()) {
    w.Key("routing");
    w.String(item.routing);
  }
  // external_gte: an equal version is applied too, so re-sending the same change (a replay,
  // or a retry after a lost answer) succeeds instead of failing; an older one gets a 409.
  w.Key("version");
  w.UInt(item.version);
  w.Key("version_type");
  w.String("external_gte");
  w.EndObject();
  w.EndObject();
  out->push_back('\n');
  if (item.action == BulkItem::Action::kIndex) {
    out->append(item.source);
    out->push_back('\n');
  }
}

Result<std::vector<ItemResult>> ParseBulkResponse(const std::string& body, size_t expected) {
  std::vector<ItemResult> out;
  try {
    auto j = nlohmann::json::parse(body);
    const auto& items = j.at("items");
    if (!items.is_array() || items.size() != expected) {
      return Status::Internal("_bulk answered " + std::to_string(items.size()) + " items for " +
                              std::to_string(expected));
    }
    out.reserve(expected);
    for (const auto& wrapper : items) {
      // Each item is {"<action>": {"status": ..., "error": {...}}}.
      const auto& it = wrapper.begin().value();
      ItemResult r;
      r.status = it.at("status").get<int>();
      if (it.contains("error")) {
        const auto& e = it["error"];
        if (e.is_object()) {
          r.error_type = e.value("type", "");
          r.reason = e.value("reason", "");
          if (e.contains("caused_by") && e["caused_by"].is_object()) {
            r.reason += " (" + e["caused_by"].value("type", "") + ": " +
                        e["caused_by"].value("reason", "") + ")";
          }
        } else {
          r.error_type = "error";
          r.reason = e.dump();
        }
      }
      out.push_back(std::move(r));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal(std::string("cannot read the _bulk answer: ") + e.what());
  }
  return out;
}

Outcome Classify(const ItemResult& r) {
  if (r.status >= 200 && r.status < 300) return Outcome::kDone;
  // A delete of a document that does not exist: nothing to do (the version is recorded).
  if (r.status == 404 && r.error_type.empty()) return Outcome::kDone;
  // Our version is older than (external_gte: lower than) the stored one: a newer change is
  // already applied, which is what we want.
  if (r.status == 409 && r.error_type == "version_conflict_engine_exception") return Outcome::kDone;
  if (r.status == 401 || r.status == 403) return Outcome::kAuth;
  if (r.status == 429 || r.status >= 500) return Outcome::kRetry;
  return Outcome::kReject;
}

std::string ErrorSummary(const std::string& body) {
  try {
    auto j = nlohmann::json::parse(body);
    if (j.contains("error") && j["error"].is_object()) {
      return j["error"].value("type", "") + ": " + j["error"].value("reason", "");
    }
  } catch (const nlohmann::json::exception&) {
  }
  return body.substr(0, 300);
}

}  // namespace sluice::es
