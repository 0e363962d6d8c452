#include "connectors/kafka/kafka_envelope.h"

#include <charconv>
#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>

namespace sluice::kafka {

using Json = nlohmann::ordered_json;

namespace {

constexpr std::string_view kDebeziumUnavailable = "__debezium_unavailable_value";

Status Bad(const std::string& what) { return Status::Rejected("not a change envelope: " + what); }

// A JSON value as sluice carries it. Strings stay strings (numeric and times were strings in
// the line format already), numbers keep their JSON text, objects and arrays become json.
Value ToValue(const Json& v, bool debezium) {
  switch (v.type()) {
    case Json::value_t::null:
      return Value::Null();
    case Json::value_t::boolean:
      return Value::Of(ValueKind::kBool, v.get<bool>() ? "true" : "false");
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return Value::Of(ValueKind::kInt, v.dump());
    case Json::value_t::number_float:
      return Value::Of(ValueKind::kFloat, v.dump());
    case Json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (debezium && s == kDebeziumUnavailable) return Value::Unchanged();
      return Value::Of(ValueKind::kString, s);
    }
    default:
      return Value::Of(ValueKind::kJson, v.dump());
  }
}

Status ToRow(const Json& obj, const char* what, bool debezium, Row* row) {
  if (!obj.is_object()) return Bad(std::string("'") + what + "' is not an object");
  row->clear();
  row->reserve(obj.size());
  for (const auto& [name, v] : obj.items()) row->push_back({name, ToValue(v, debezium)});
  return Status::Ok();
}

Status OptionalRow(const Json& doc, const char* name, bool debezium, std::optional<Row>* row) {
  auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return Status::Ok();
  row->emplace();
  return ToRow(*it, name, debezium, &**row);
}

const std::string* StringField(const Json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

std::optional<uint64_t> UIntField(const Json& doc, const char* name) {
  auto it = doc.find(name);
  if (it == doc.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  auto v = it->get<int64_t>();
  return v < 0 ? std::nullopt : std::optional<uint64_t>(static_cast<uint64_t>(v));
}

std::optional<Op> OpFromName(std::string_view name) {
  if (name == "read") return Op::kRead;
  if (name == "insert") return Op::kInsert;
  if (name == "update") return Op::kUpdate;
  if (name == "delete") return Op::kDelete;
  if (name == "truncate") return Op::kTruncate;
  return std::nullopt;
}

std::optional<Op> OpFromDebezium(std::string_view name) {
  if (name == "r") return Op::kRead;
  if (name == "c") return Op::kInsert;
  if (name == "u") return Op::kUpdate;
  if (name == "d") return Op::kDelete;
  if (name == "t") return Op::kTruncate;
  return std::nullopt;
}

// The JsonConverter with schemas on wraps everything in {"schema":..,"payload":..}.
const Json& Unwrap(const Json& doc) {
  if (doc.is_object() && doc.size() == 2 && doc.contains("schema") && doc.contains("payload")) {
    return doc["payload"];
  }
  return doc;
}

}  // namespace

std::optional<Position> PositionFromHeaders(std::optional<std::string_view> lsn,
                                            std::optional<std::string_view> seq) {
  if (!lsn || !seq) return std::nullopt;
  auto l = Lsn::Parse(*lsn);
  uint64_t s = 0;
  auto [end, ec] = std::from_chars(seq->data(), seq->data() + seq->size(), s);
  if (!l || ec != std::errc() || end != seq->data() + seq->size()) return std::nullopt;
  return Position{*l, s};
}

namespace {

// "YYYY-MM-DDTHH:MM:SS" -> seconds since the Unix epoch.
std::optional<int64_t> ParseSeconds(std::string_view t) {
  auto num = [&](size_t pos, size_t len, int* out) {
    auto [end, ec] = std::from_chars(t.data() + pos, t.data() + pos + len, *out);
    return ec == std::errc() && end == t.data() + pos + len;
  };
  int year, mon, day, hour, min, sec;
  if (t.size() != 19 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != ' ') ||
      t[13] != ':' || t[16] != ':' || !num(0, 4, &year) || !num(5, 2, &mon) || !num(8, 2, &day) ||
      !num(11, 2, &hour) || !num(14, 2, &min) || !num(17, 2, &sec)) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::optional<int64_t> ParseTimestampUs(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z
  if (t.size() < 20 || t.back() != 'Z') return std::nullopt;
  // Changes come in runs of one commit time: the seconds part is parsed once per second.
  thread_local std::string last_text;
  thread_local int64_t last_seconds = 0;
  std::string_view whole = t.substr(0, 19);
  if (whole != last_text) {
    auto seconds = ParseSeconds(whole);
    if (!seconds) return std::nullopt;
    last_text.assign(whole);
    last_seconds = *seconds;
  }
  int64_t frac = 0;
  size_t pos = 19;
  if (t[pos] == '.') {
    int digits = 0;
    for (++pos; pos + 1 < t.size(); ++pos, ++digits) {
      if (t[pos] < '0' || t[pos] > '9') return std::nullopt;
      if (digits < 6) frac = frac * 10 + (t[pos] - '0');
    }
    for (; digits < 6; ++digits) frac *= 10;
  }
  if (pos != t.size() - 1) return std::nullopt;
  return last_seconds * 1000000 + frac;
}

std::shared_ptr<const TableId> EnvelopeParser::Table(const std::string& source,
                                                     const std::string& schema,
                                                     const std::string& table) {
  // Messages mostly come in runs of one table.
  if (last_table_ && last_table_->name == table && last_table_->schema == schema &&
      last_table_->source == source) {
    return last_table_;
  }
  auto key = std::make_tuple(source, schema, table);
  auto it = tables_.find(key);
  if (it == tables_.end()) {
    it = tables_
             .emplace(std::move(key),
                      std::make_shared<const TableId>(TableId{source, schema, table}))
             .first;
  }
  last_table_ = it->second;
  return last_table_;
}

namespace {

// The fields of a sluice envelope from its document; a row that is not an object is the
// error returned, once every field has been read.
Status FieldsFromJson(const Json& doc, SluiceFields* f) {
  *f = SluiceFields();
  for (auto [name, field] : {std::pair{"op", &f->op},
                             {"source", &f->source},
                             {"schema", &f->schema},
                             {"table", &f->table},
                             {"lsn", &f->lsn},
                             {"commit_time", &f->commit_time}}) {
    if (const std::string* v = StringField(doc, name)) *field = *v;
  }
  f->seq = UIntField(doc, "seq");
  f->xid = UIntField(doc, "xid");
  if (auto u = doc.find("unchanged"); u != doc.end() && u->is_array()) {
    for (const auto& col : *u) {
      if (col.is_string()) f->unchanged.push_back(col.get<std::string>());
    }
  }
  Status rows = Status::Ok();
  for (auto [name, row] : {std::pair{"key", &f->key},
                           {"old_key", &f->old_key},
                           {"before", &f->before},
                           {"after", &f->after}}) {
    Status s = OptionalRow(doc, name, false, row);
    if (rows.ok()) rows = s;
  }
  return rows;
}

// Checks the fields' meaning and moves them into `c`; `rows` is FieldsFromJson's result.
Status ChangeFromFields(SluiceFields& f, const Status& rows, Change* c,
                        const std::function<std::shared_ptr<const TableId>(
                            const std::string&, const std::string&, const std::string&)>& table) {
  if (!f.op || !f.source || !f.schema || !f.table || !f.lsn) {
    return Bad("a sluice envelope needs op, source, schema, table and lsn");
  }
  auto parsed_op = OpFromName(*f.op);
  if (!parsed_op) return Bad("unknown op '" + *f.op + "'");
  c->op = *parsed_op;
  c->table = table(*f.source, *f.schema, *f.table);
  auto parsed_lsn = Lsn::Parse(*f.lsn);
  if (!parsed_lsn) return Bad("lsn '" + *f.lsn + "' is not X/X");
  c->position = {*parsed_lsn, f.seq.value_or(0)};
  SLUICE_RETURN_IF_ERROR(rows);
  if (f.key) {
    c->key = std::move(*f.key);
  } else if (c->op != Op::kTruncate) {
    return Bad("no 'key'");
  }
  c->old_key = std::move(f.old_key);
  c->before = std::move(f.before);
  c->after = std::move(f.after);
  if (c->after) {
    for (auto& col : f.unchanged) c->after->push_back({std::move(col), Value::Unchanged()});
  }
  if (f.commit_time) {
    auto us = ParseTimestampUs(*f.commit_time);
    if (!us) return Bad("commit_time '" + *f.commit_time + "' is not an ISO 8601 UTC time");
    c->commit_time_us = *us;
  }
  c->xid = static_cast<uint32_t>(f.xid.value_or(0));
  return Status::Ok();
}

}  // namespace

Status EnvelopeParser::Parse(std::optional<std::string_view> key,
                             std::optional<std::string_view> value, const MessageMeta& meta,
                             std::vector<Change>* out) {
  if (!value) return Status::Ok();  // a tombstone: only compaction cares
  auto table = [this](const std::string& s, const std::string& sc, const std::string& t) {
    return Table(s, sc, t);
  };
  Change c;
  SluiceFields fields;
  if (format_ != InputFormat::kDebezium && ReadSluiceLine(*value, &fields) && fields.source) {
    SLUICE_RETURN_IF_ERROR(ChangeFromFields(fields, Status::Ok(), &c, table));
    out->push_back(std::move(c));
    return Status::Ok();
  }
  Json doc = Json::parse(value->begin(), value->end(), nullptr, false);
  if (doc.is_discarded()) return Bad("the value is not JSON");
  if (!doc.is_object()) return Bad("the value is not a JSON object");
  const Json& body = Unwrap(doc);
  auto src = body.find("source");
  if (src == body.end()) return Bad("no 'source'");
  bool debezium =
      format_ == InputFormat::kDebezium || (format_ == InputFormat::kAuto && src->is_object());
  if (debezium && !src->is_object()) return Bad("a Debezium event's 'source' is an object");
  if (!debezium && !src->is_string()) return Bad("a sluice envelope's 'source' is a string");

  if (!debezium) {
    Status rows = FieldsFromJson(body, &fields);
    SLUICE_RETURN_IF_ERROR(ChangeFromFields(fields, rows, &c, table));
    out->push_back(std::move(c));
    return Status::Ok();
  }
  const std::string* op = StringField(body, "op");
  if (!op) return Bad("no 'op'");
  auto parsed_op = OpFromDebezium(*op);
  if (!parsed_op) {
    if (*op == "m") return Status::Ok();  // a logical decoding message: not a row change
    return Bad("unknown Debezium op '" + *op + "'");
  }
  c.op = *parsed_op;
  const std::string* schema = StringField(*src, "schema");
  const std::string* name = StringField(*src, "table");
  const std::string* server = StringField(*src, "name");
  if (!schema || !name) return Bad("Debezium 'source' needs schema and table");
  c.table = Table(server ? *server : std::string(), *schema, *name);
  std::optional<Position> from_headers;
  if (meta.header_position) from_headers = meta.header_position();
  c.position = from_headers.value_or(Position{Lsn(UIntField(*src, "lsn").value_or(0)), 0});
  if (!c.position.lsn.valid()) return Bad("no position: no sluice.lsn header, no source.lsn");
  c.xid = static_cast<uint32_t>(UIntField(*src, "txId").value_or(0));
  c.commit_time_us = static_cast<int64_t>(UIntField(*src, "ts_ms").value_or(0)) * 1000;
  SLUICE_RETURN_IF_ERROR(OptionalRow(body, "before", true, &c.before));
  SLUICE_RETURN_IF_ERROR(OptionalRow(body, "after", true, &c.after));
  if (c.op != Op::kTruncate) {
    if (!key) return Bad("a Debezium event without a message key");
    Json k = Json::parse(key->begin(), key->end(), nullptr, false);
    if (k.is_discarded()) return Bad("the key is not JSON");
    SLUICE_RETURN_IF_ERROR(ToRow(Unwrap(k), "key", true, &c.key));
  }
  out->push_back(std::move(c));
  return Status::Ok();
}

}  // namespace sluice::kafka
