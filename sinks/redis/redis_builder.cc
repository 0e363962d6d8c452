#include "sinks/redis/redis_builder.h"

#include "util/json_writer.h"

namespace sluice::redis {

std::string PositionHex(const Position& p) {
  static const char* kHex = "0123456789abcdef";
  std::string out(32, '0');
  uint64_t lsn = p.lsn.value();
  uint64_t seq = static_cast<uint64_t>(p.seq);
  for (int i = 15; i >= 0; --i, lsn >>= 4) out[static_cast<size_t>(i)] = kHex[lsn & 0xf];
  for (int i = 31; i >= 16; --i, seq >>= 4) out[static_cast<size_t>(i)] = kHex[seq & 0xf];
  return out;
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

void AppendRecord(Format format, const Change& change, const RecordKeys& keys, size_t table,
                  ArgList* args) {
  bool del = change.op == Op::kDelete || !change.after;
  size_t unchanged = 0;
  if (!del) {
    for (const Field& f : *change.after) unchanged += f.value.is_unchanged() ? 1 : 0;
  }
  int flags = (keys.old_key.empty() ? 0 : 1) | (unchanged > 0 ? 2 : 0);
  std::string* b = args->buffer();
  b->push_back(del ? 'd' : 'u');
  b->push_back(static_cast<char>('0' + flags));
  b->append(PositionHex(change.position));
  b->append(std::to_string(table));
  args->EndArg();
  args->Add(keys.key);
  if (!keys.old_key.empty()) args->Add(keys.old_key);
  if (del) return;
  const Row& row = *change.after;
  if (unchanged > 0) {
    args->Add(std::to_string(unchanged));
    for (const Field& f : row) {
      if (!f.value.is_unchanged()) continue;
      if (format == Format::kJson) {
        b->push_back('"');
        AppendJsonEscaped(b, f.name);
        b->push_back('"');
        args->EndArg();
      } else {
        args->Add(f.name);
      }
    }
  }
  if (format == Format::kJson) {
    JsonWriter w(b);
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

void AppendTables(std::string_view meta, const std::vector<const TableId*>& tables, ArgList* args) {
  for (const TableId* t : tables) {
    args->Add(PosKeyPrefix(meta, *t));
    args->Add(MarkKey(meta, *t));
  }
  args->Add(std::to_string(tables.size()));
}

}  // namespace sluice::redis
