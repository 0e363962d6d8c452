#include "sinks/redis/redis_builder.h"

#include <cinttypes>
#include <cstdio>

#include "core/json_writer.h"

namespace sluice::redis {

std::string PositionHex(const Position& p) {
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64 "%016" PRIx64, p.lsn.value(),
                static_cast<uint64_t>(p.seq));
  return std::string(buf, 32);
}

std::string PosKeyPrefix(std::string_view meta, const TableId& table) {
  std::string k(meta);
  k += "pos:";
  k += table.ToString();
  k += ':';
  return k;
}

std::string PosKey(std::string_view meta, const TableId& table, std::string_view key) {
  std::string k = PosKeyPrefix(meta, table);
  k.append(key);
  return k;
}

std::string MarkKey(std::string_view meta, const TableId& table) {
  std::string k(meta);
  k += "trunc:";
  k += table.ToString();
  return k;
}

std::string GlobEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string RowJson(const Row& row) {
  std::string out;
  JsonWriter w(&out);
  w.RowObject(row);
  return out;
}

std::vector<std::pair<std::string, std::string>> RowHash(const Row& row) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Field& f : row) {
    if (f.value.is_null() || f.value.is_unchanged()) continue;
    out.emplace_back(f.name, f.value.text);
  }
  return out;
}

void AppendRecord(Format format, const Change& change, const RecordKeys& keys, ArgList* args) {
  bool del = change.op == Op::kDelete || !change.after;
  args->Add(del ? "d" : "u");
  args->Add(keys.key);
  args->Add(keys.pos_key);
  args->Add(PositionHex(change.position));
  args->Add(keys.mark_key);
  args->Add(keys.old_key);
  args->Add(keys.old_pos_key);
  if (del) {
    args->Add("0");  // no unchanged columns
    args->Add("0");  // no fields
    return;
  }
  const Row& row = *change.after;
  size_t unchanged = 0;
  for (const Field& f : row) unchanged += f.value.is_unchanged() ? 1 : 0;
  args->Add(std::to_string(unchanged));
  for (const Field& f : row) {
    if (!f.value.is_unchanged()) continue;
    if (format == Format::kJson) {
      std::string* b = args->buffer();
      b->push_back('"');
      AppendJsonEscaped(b, f.name);
      b->push_back('"');
      args->EndArg();
    } else {
      args->Add(f.name);
    }
  }
  if (format == Format::kJson) {
    args->Add("1");
    JsonWriter w(args->buffer());
    w.RowObject(row);
    args->EndArg();
    return;
  }
  size_t fields = 0;
  for (const Field& f : row) fields += (f.value.is_null() || f.value.is_unchanged()) ? 0 : 1;
  args->Add(std::to_string(fields));
  for (const Field& f : row) {
    if (f.value.is_null() || f.value.is_unchanged()) continue;
    args->Add(f.name);
    args->Add(f.value.text);
  }
}

}  // namespace sluice::redis
