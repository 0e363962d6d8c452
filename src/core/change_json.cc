#include "core/change_json.h"

#include <ctime>

#include "core/json_writer.h"

namespace sluice {

std::string FormatTimestampUs(int64_t unix_us) {
  int64_t secs = unix_us / 1000000;
  int64_t frac = unix_us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%06lldZ", static_cast<long long>(frac));
  return buf;
}

namespace {
void OptionalRow(JsonWriter& w, const char* name, const std::optional<Row>& row) {
  w.Key(name);
  if (row) {
    w.RowObject(*row);
  } else {
    w.Null();
  }
}
}  // namespace

void AppendChangeJson(const Change& c, std::string* out) {
  JsonWriter w(out);
  w.BeginObject();
  w.Key("op");
  w.String(OpName(c.op));
  w.Key("source");
  w.String(c.table ? c.table->source : "");
  w.Key("schema");
  w.String(c.table ? c.table->schema : "");
  w.Key("table");
  w.String(c.table ? c.table->name : "");
  w.Key("key");
  w.RowObject(c.key);
  if (c.old_key) {
    w.Key("old_key");
    w.RowObject(*c.old_key);
  }
  OptionalRow(w, "before", c.before);
  OptionalRow(w, "after", c.after);
  if (c.after) {
    bool any = false;
    for (const Field& f : *c.after) {
      if (!f.value.is_unchanged()) continue;
      if (!any) {
        w.Key("unchanged");
        w.BeginArray();
        any = true;
      }
      w.String(f.name);
    }
    if (any) w.EndArray();
  }
  w.Key("lsn");
  w.String(c.position.lsn.ToString());
  w.Key("seq");
  w.UInt(c.position.seq);
  w.Key("commit_time");
  if (c.commit_time_us != 0) {
    w.String(FormatTimestampUs(c.commit_time_us));
  } else {
    w.Null();
  }
  w.Key("xid");
  w.UInt(c.xid);
  w.EndObject();
}

}  // namespace sluice
