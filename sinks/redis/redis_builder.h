// Payload building for the Redis sink: turns changes into the arguments of the apply
// script (see redis_script.h for the record layout). Pure; no Redis here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/change.h"
#include "core/status.h"

namespace sluice::redis {

enum class Format { kJson, kHash };

// Position as 32 lowercase hex digits (16 for the commit LSN, 16 for seq). Fixed width, so
// the script compares two positions chunk by chunk without losing 64-bit precision.
std::string PositionHex(const Position& p);

// The keys one change touches. `old_key` is empty unless an update moved the row to a
// different Redis key. The script derives their position keys from the table's prefix.
struct RecordKeys {
  std::string key;      // the value users read
  std::string old_key;  // key-changing update: the entry to remove
};

// Names of the sink's own keys, under `meta_prefix` ("sluice:"):
//   <meta>pos:<source>.<schema>.<table>:<key>   position of <key> (or its tombstone)
//   <meta>trunc:<source>.<schema>.<table>       position of the table's last truncate
std::string PosKey(std::string_view meta, const TableId& table, std::string_view key);
std::string PosKeyPrefix(std::string_view meta, const TableId& table);
std::string MarkKey(std::string_view meta, const TableId& table);
// `text` escaped for a SCAN MATCH pattern (* ? [ ] \ get a backslash).
std::string GlobEscape(std::string_view text);

// Script arguments kept in one buffer: a batch of 1,000 changes has ~10,000 of them, and
// one allocation per argument would cost more than building the payloads.
class ArgList {
 public:
  void Add(std::string_view arg) {
    buf_.append(arg);
    ends_.push_back(buf_.size());
  }
  // Appends to the argument started last (for building one argument in place).
  std::string* buffer() { return &buf_; }
  void EndArg() { ends_.push_back(buf_.size()); }
  size_t size() const { return ends_.size(); }
  size_t bytes() const { return buf_.size(); }
  std::string_view at(size_t i) const {
    size_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(buf_).substr(begin, ends_[i] - begin);
  }
  void Clear() {
    buf_.clear();
    ends_.clear();
  }

 private:
  std::string buf_;
  std::vector<size_t> ends_;
};

// Appends the apply-script record of one read/insert/update/delete change of the table
// numbered `table` (1-based) in the call's table list (AppendTables). Few arguments per
// change, since Redis pays for each one:
//   header: op ('u' upsert | 'd' delete), flags digit (1: an old key follows the key,
//           2: unchanged names follow; 3: both), the position (32 hex digits), table number
//   key, [old_key], [n_unchanged, unchanged names...], then for upserts only:
//   json: the row as a JSON object without the unchanged columns; unchanged names are the
//         JSON member names as stored (quoted, escaped);
//   hash: n_fields, then name/value pairs (two arguments each), NULL columns left out (an
//         absent field is NULL); unchanged names are plain column names.
void AppendRecord(Format format, const Change& change, const RecordKeys& keys, size_t table,
                  ArgList* args);

// Appends the table list that ends an apply call: per table its position-key prefix and
// truncate marker key (under `meta`), then the number of tables.
void AppendTables(std::string_view meta, const std::vector<const TableId*>& tables, ArgList* args);

// The value as users read it, for tests and tools: the JSON object text (json) or the
// field/value pairs (hash) of `row`, unchanged columns left out.
std::string RowJson(const Row& row);
std::vector<std::pair<std::string, std::string>> RowHash(const Row& row);

}  // namespace sluice::redis
