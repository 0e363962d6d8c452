#include "util/change_json.h"

#include <cstdint>
#include <ctime>

#include "util/json_writer.h"

namespace sluice {

std::string FormatTimestampUs(int64_t unix_us) {
  int64_t secs = unix_us / 1000000;
  int64_t frac = unix_us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  // gmtime_r and strftime cost about a microsecond, and changes come many to a second: the
  // text up to the seconds is kept per thread for the last second seen.
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char prefix[32];
  thread_local size_t prefix_len = 0;
  if (secs != cached_secs) {
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    prefix_len = std::strftime(prefix, sizeof(prefix), "%Y-%m-%dT%H:%M:%S", &tm);
    cached_secs = secs;
  }
  char tail[8] = {'.', '0', '0', '0', '0', '0', '0', 'Z'};
  for (int d = 6; d >= 1; --d, frac /= 10) tail[d] = static_cast<char>('0' + frac % 10);
  std::string out;
  out.reserve(prefix_len + sizeof(tail));
  out.append(prefix, prefix_len);
  out.append(tail, sizeof(tail));
  return out;
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
