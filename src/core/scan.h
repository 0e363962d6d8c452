// Verification (`sluice verify`): a source's consistent read of its tables at one position,
// and a sink's read path back out of its target. See docs/architecture.md ("Verify").
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/source.h"
#include "core/status.h"

namespace sluice {

// A consistent read of a pipeline's tables: every change with a position below position()
// is in it, none at or above it. Used from one thread.
class SourceScan {
 public:
  virtual ~SourceScan() = default;

  // (lsn, 0): what the rows are tagged with, as snapshot rows are.
  virtual Position position() const = 0;
  // The tables the pipeline reads, as the scan sees them.
  virtual const std::vector<TableSchema>& tables() const = 0;
  // About how many rows `table` has (for progress only); nullopt when the source cannot say.
  virtual std::optional<uint64_t> EstimatedRows(const TableId& table) const {
    (void)table;
    return std::nullopt;
  }

  // Waits until the pipeline's own checkpoint has passed position(), so that every sink
  // holds every change below it. Unavailable after `timeout`, naming what it waited
  // for (the pipeline is probably not running).
  virtual Status WaitCheckpointed(std::chrono::milliseconds timeout) = 0;

  // The rows of `table` in key order, as `read` changes at position(), a bounded batch at a
  // time.
  virtual Status Read(const TableId& table,
                      const std::function<Status(std::vector<Change>&&)>& each) = 0;

  // The rows of `table` whose key columns (the table's key_columns, in order) have these
  // values (PostgreSQL text forms), as `read` changes; keys with no row are left out.
  virtual Result<std::vector<Change>> Lookup(const TableId& table,
                                             const std::vector<std::vector<std::string>>& keys) = 0;
};

// What a sink holds for one key, against what it holds after applying a change.
enum class Verdict : uint8_t {
  kEqual,      // the same
  kMissing,    // nothing (or a tombstone older than the change)
  kDifferent,  // something else, at an older position
  kNewer,      // something at a position not older than the change's: not compared
};

struct Probe {
  Verdict verdict = Verdict::kEqual;
  std::string detail;  // for kDifferent: where it differs, briefly
};

// An entry a sink holds: its key column values as text, and the sink's own name for it.
struct HeldEntry {
  std::vector<std::string> key;  // empty when the stored value does not carry the key
  // The kind of each key value when the sink stores them typed (a JSON number, say); empty
  // when it holds text only. A repair's delete carries the key in these kinds.
  std::vector<ValueKind> key_kinds;
  std::string name;  // Redis key, document _id, ...
};

// A key's values (text forms, in order) joined by a separator no text form contains: the
// same string from a Row and from the text a sink stored, for set lookups.
inline std::string JoinedKey(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    out += v;
    out += '\x1f';
  }
  return out;
}
inline std::string JoinedKey(const Row& key) {
  std::string out;
  for (const Field& f : key) {
    out += f.value.text;
    out += '\x1f';
  }
  return out;
}

// A sink's read path. Created by the sink, used from one thread.
class SinkReader {
 public:
  virtual ~SinkReader() = default;

  // For each change (a `read` change after the pipeline's transforms), what the sink holds
  // for its key, compared with what it would hold after applying that change.
  virtual Result<std::vector<Probe>> Compare(const std::vector<Change>& expected) = 0;

  // Every live entry the sink holds for `table` at a position older than `before`, a page at
  // a time. `key_columns`: the key's column names as the stored values carry them.
  virtual Status Entries(const TableId& table, const std::vector<std::string>& key_columns,
                         Position before,
                         const std::function<Status(std::vector<HeldEntry>&&)>& page) = 0;
};

}  // namespace sluice
