#include "sinks/elasticsearch/es_builder.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>

#include "util/json_writer.h"

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

// The row to index: the change's own row, or, when it has unchanged TOAST columns, a copy in
// `*filled` with their values taken from the old row when the change has it (REPLICA
// IDENTITY FULL logs the old row in full). Else the change is refused: the document is
// replaced whole, and leaving the column out would lose the stored value.
Result<const Row*> DocumentRow(const Change& c, Row* filled) {
  auto unchanged = [](const Field& f) { return f.value.is_unchanged(); };
  if (std::none_of(c.after->begin(), c.after->end(), unchanged)) return &*c.after;
  *filled = *c.after;
  for (Field& f : *filled) {
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
  return static_cast<const Row*>(filled);
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
  Row filled;
  auto document = DocumentRow(c, &filled);
  if (!document.ok()) return document.status();
  const Row& row = *document.value();
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
  auto id = RenderId(options.id_template, c.key, &row);
  if (!id.ok()) return id.status();
  put.id = std::move(id).value();
  if (!options.routing_column.empty()) {
    auto r = RoutingOf(options.routing_column, c, {&c.key, &row});
    if (!r.ok()) return r.status();
    put.routing = std::move(r).value();
  }
  JsonWriter w(&put.source);
  w.RowObject(row);
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

namespace {

// A cursor over JSON text that steps over values without building them. A _bulk answer
// holds one object per item (about 150 bytes each, 1,000 per request by default); only the
// `status` of each and the rare `error` objects matter, so the answer is read in one pass
// and only an error object is parsed in full.
class JsonCursor {
 public:
  explicit JsonCursor(std::string_view text) : s_(text) {}

  // Skips white space, then consumes `c` if it comes next.
  bool Consume(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // A string's raw contents (escapes left as they are); false if no string comes next.
  bool String(std::string_view* out) {
    if (!Consume('"')) return false;
    size_t begin = i_;
    if (!SkipStringRest()) return false;
    *out = s_.substr(begin, i_ - 1 - begin);
    return true;
  }
  // `"key":`, with the key's raw contents in *key.
  bool Key(std::string_view* key) { return String(key) && Consume(':'); }
  bool Int(int* out) {
    SkipSpace();
    auto [end, ec] = std::from_chars(s_.data() + i_, s_.data() + s_.size(), *out);
    if (ec != std::errc()) return false;
    i_ = static_cast<size_t>(end - s_.data());
    return true;
  }
  // Steps over one value of any kind (nested objects and arrays included).
  bool SkipValue() {
    SkipSpace();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '"') {
      ++i_;
      return SkipStringRest();
    }
    if (c == '{' || c == '[') return SkipNested();
    size_t begin = i_;
    while (i_ < s_.size() && !std::strchr(",}] \t\r\n", s_[i_])) ++i_;
    return i_ > begin;
  }
  size_t pos() const { return i_; }
  std::string_view Slice(size_t begin, size_t end) const { return s_.substr(begin, end - begin); }

 private:
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
      ++i_;
  }
  // After an opening quote: up to and past the closing one.
  bool SkipStringRest() {
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '\\') {
        ++i_;
      } else if (c == '"') {
        return true;
      }
    }
    return false;
  }
  bool SkipNested() {
    int depth = 0;
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') {
        if (!SkipStringRest()) return false;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return true;
      }
    }
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// type, reason and caused_by of an item's `error` (its JSON text).
void ReadItemError(std::string_view text, ItemResult* r) {
  auto e = nlohmann::json::parse(text);
  if (!e.is_object()) {
    r->error_type = "error";
    r->reason = e.dump();
    return;
  }
  r->error_type = e.value("type", "");
  r->reason = e.value("reason", "");
  if (e.contains("caused_by") && e["caused_by"].is_object()) {
    r->reason +=
        " (" + e["caused_by"].value("type", "") + ": " + e["caused_by"].value("reason", "") + ")";
  }
}

// One element of `items`: {"<action>": {..., "status": N, "error": {...}, ...}}.
bool ReadItem(JsonCursor& c, ItemResult* r) {
  std::string_view key;
  if (!c.Consume('{') || !c.Key(&key) || !c.Consume('{')) return false;
  bool has_status = false;
  if (!c.Consume('}')) {
    do {
      if (!c.Key(&key)) return false;
      if (key == "status") {
        if (!c.Int(&r->status)) return false;
        has_status = true;
      } else if (key == "error") {
        size_t begin = c.pos();  // (leading spaces are fine for the parser)
        if (!c.SkipValue()) return false;
        ReadItemError(c.Slice(begin, c.pos()), r);
      } else if (!c.SkipValue()) {
        return false;
      }
    } while (c.Consume(','));
    if (!c.Consume('}')) return false;
  }
  while (c.Consume(',')) {  // more actions in one element: not Elasticsearch's shape, skipped
    if (!c.Key(&key) || !c.SkipValue()) return false;
  }
  return has_status && c.Consume('}');
}

// The `items` array, from its '['.
bool ReadItems(JsonCursor& c, size_t expected, std::vector<ItemResult>* out) {
  if (!c.Consume('[')) return false;
  out->reserve(expected);
  if (c.Consume(']')) return true;
  do {
    out->emplace_back();
    if (!ReadItem(c, &out->back())) return false;
  } while (c.Consume(','));
  return c.Consume(']');
}

}  // namespace

Result<std::vector<ItemResult>> ParseBulkResponse(const std::string& body, size_t expected) {
  std::vector<ItemResult> out;
  JsonCursor c(body);
  bool items = false;
  try {
    std::string_view key;
    bool ok = c.Consume('{');
    if (ok && !c.Consume('}')) {
      do {
        if (!(ok = c.Key(&key))) break;
        if (key == "items") {
          ok = ReadItems(c, expected, &out);
          items = true;
        } else {
          ok = c.SkipValue();
        }
      } while (ok && c.Consume(','));
      ok = ok && c.Consume('}');
    }
    if (!ok) {
      return Status::Internal("cannot read the _bulk answer: not JSON at byte " +
                              std::to_string(c.pos()) + ": " + body.substr(0, 200));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal(std::string("cannot read an item error of the _bulk answer: ") +
                            e.what());
  }
  if (!items) return Status::Internal("the _bulk answer has no items: " + body.substr(0, 200));
  if (out.size() != expected) {
    return Status::Internal("_bulk answered " + std::to_string(out.size()) + " items for " +
                            std::to_string(expected));
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
