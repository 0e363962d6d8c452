#include "sinks/kafka/kafka_builder.h"

#include "util/change_json.h"
#include "util/json_writer.h"

namespace sluice::kafka {

Result<TopicTemplate> TopicTemplate::Parse(const std::string& text) {
  if (text.empty()) return Status::InvalidArgument("topic template is empty");
  size_t pos = 0;
  while ((pos = text.find('{', pos)) != std::string::npos) {
    size_t close = text.find('}', pos);
    if (close == std::string::npos) {
      return Status::InvalidArgument("topic template \"" + text + "\": '{' is never closed");
    }
    std::string name = text.substr(pos + 1, close - pos - 1);
    if (name != "source" && name != "schema" && name != "table") {
      return Status::InvalidArgument("topic template \"" + text + "\": unknown placeholder {" +
                                     name + "} (use {source}, {schema}, {table})");
    }
    pos = close + 1;
  }
  TopicTemplate t;
  t.text_ = text;
  return t;
}

std::string TopicTemplate::Render(const TableId& table) const {
  std::string out;
  size_t pos = 0;
  while (pos < text_.size()) {
    size_t open = text_.find('{', pos);
    if (open == std::string::npos) {
      out.append(text_, pos, std::string::npos);
      break;
    }
    out.append(text_, pos, open - pos);
    size_t close = text_.find('}', open);
    std::string_view name(text_.data() + open + 1, close - open - 1);
    out += name == "source" ? table.source : name == "schema" ? table.schema : table.name;
    pos = close + 1;
  }
  return out;
}

const char* DebeziumOp(Op op) {
  switch (op) {
    case Op::kRead:
      return "r";
    case Op::kInsert:
      return "c";
    case Op::kUpdate:
      return "u";
    case Op::kDelete:
      return "d";
    case Op::kTruncate:
      return "t";
  }
  return "?";
}

void AppendKeyJson(const Row& key, std::string* out) {
  JsonWriter w(out);
  w.RowObject(key);
}

namespace {

void DebeziumRow(JsonWriter& w, const char* name, const Row* row) {
  w.Key(name);
  if (!row) {
    w.Null();
    return;
  }
  w.BeginObject();
  for (const Field& f : *row) {
    w.Key(f.name);
    if (f.value.is_unchanged()) {
      w.String(kDebeziumUnavailable);
    } else {
      w.Value(f.value);
    }
  }
  w.EndObject();
}

}  // namespace

void AppendDebeziumValue(const Change& c, Op op, const Row* before, const Row* after,
                         int64_t now_ms, std::string* out) {
  static const std::string kEmpty;
  const std::string& source = c.table ? c.table->source : kEmpty;
  JsonWriter w(out);
  w.BeginObject();
  DebeziumRow(w, "before", before);
  DebeziumRow(w, "after", after);
  w.Key("source");
  w.BeginObject();
  w.Key("version");
  w.String("sluice");
  w.Key("connector");
  w.String("sluice");
  w.Key("name");
  w.String(source);
  w.Key("ts_ms");
  w.Int(c.commit_time_us / 1000);
  w.Key("snapshot");
  w.String(c.op == Op::kRead ? "true" : "false");
  w.Key("db");
  w.String(source);
  w.Key("sequence");
  w.Null();
  w.Key("schema");
  w.String(c.table ? c.table->schema : kEmpty);
  w.Key("table");
  w.String(c.table ? c.table->name : kEmpty);
  w.Key("txId");
  if (c.xid != 0) {
    w.UInt(c.xid);
  } else {
    w.Null();
  }
  w.Key("lsn");
  w.UInt(c.position.lsn.value());
  w.Key("xmin");
  w.Null();
  w.EndObject();
  w.Key("op");
  w.String(DebeziumOp(op));
  w.Key("ts_ms");
  w.Int(now_ms);
  w.Key("transaction");
  w.Null();
  w.EndObject();
}

namespace {

void AddTombstone(MessageList* out, const Row& key) {
  OutMessage& m = out->Add(Op::kDelete);
  AppendKeyJson(key, &m.key);
  m.tombstone = true;
}

void BuildSluice(const Change& c, const BuildOptions& o, MessageList* out) {
  OutMessage& m = out->Add(c.op);
  if (c.op == Op::kTruncate) {
    m.all_partitions = true;
  } else {
    AppendKeyJson(c.key, &m.key);
  }
  AppendChangeJson(c, &m.value);
  if (!o.tombstones) return;
  if (c.op == Op::kDelete) AddTombstone(out, c.key);
  if (c.old_key) AddTombstone(out, *c.old_key);
}

void BuildDebezium(const Change& c, const BuildOptions& o, int64_t now_ms, MessageList* out) {
  const Row* before = c.before ? &*c.before : nullptr;
  const Row* after = c.after ? &*c.after : nullptr;
  if (c.op == Op::kTruncate) {
    OutMessage& m = out->Add(Op::kTruncate);
    m.all_partitions = true;
    AppendDebeziumValue(c, Op::kTruncate, nullptr, nullptr, now_ms, &m.value);
    return;
  }
  if (c.op == Op::kUpdate && c.old_key) {
    // Debezium's shape for a primary-key change: delete the old key, then create the new.
    OutMessage& del = out->Add(Op::kDelete);
    AppendKeyJson(*c.old_key, &del.key);
    AppendDebeziumValue(c, Op::kDelete, before ? before : &*c.old_key, nullptr, now_ms, &del.value);
    if (o.tombstones) AddTombstone(out, *c.old_key);
    OutMessage& ins = out->Add(Op::kInsert);
    AppendKeyJson(c.key, &ins.key);
    AppendDebeziumValue(c, Op::kInsert, nullptr, after, now_ms, &ins.value);
    return;
  }
  OutMessage& m = out->Add(c.op);
  AppendKeyJson(c.key, &m.key);
  if (c.op == Op::kDelete) {
    // Without REPLICA IDENTITY FULL, Debezium's `before` of a delete holds the key columns.
    AppendDebeziumValue(c, c.op, before ? before : &c.key, nullptr, now_ms, &m.value);
    if (o.tombstones) AddTombstone(out, c.key);
    return;
  }
  AppendDebeziumValue(c, c.op, before, after, now_ms, &m.value);
}

}  // namespace

void MessageList::Clear() {
  for (size_t i = 0; i < size_; ++i) {
    OutMessage& m = items_[i];
    if (m.key.capacity() > kKeepBytes) std::string().swap(m.key);
    if (m.value.capacity() > kKeepBytes) std::string().swap(m.value);
  }
  size_ = 0;
}

OutMessage& MessageList::Add(Op op) {
  if (size_ == items_.size()) items_.emplace_back();
  OutMessage& m = items_[size_++];
  m.key.clear();
  m.value.clear();
  m.tombstone = false;
  m.all_partitions = false;
  m.op = op;
  return m;
}

void BuildMessages(const Change& change, const BuildOptions& options, int64_t now_ms,
                   MessageList* out) {
  if (options.format == Format::kDebezium) {
    BuildDebezium(change, options, now_ms, out);
  } else {
    BuildSluice(change, options, out);
  }
}

}  // namespace sluice::kafka
