// Kafka sink, pure parts: the topic template, and the messages one change becomes (key, value
// in the `sluice` or `debezium` format, headers, tombstones). No librdkafka here, so the
// unit tests exercise every format without a broker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/status.h"

namespace sluice::kafka {

enum class Format : uint8_t {
  kSluice,    // value = the stdout line format (core/change_json.h)
  kDebezium,  // value = Debezium's schemaless change event
};

// Debezium's placeholder for a column whose value the source did not send (unchanged TOAST).
inline constexpr const char* kDebeziumUnavailable = "__debezium_unavailable_value";

// `{source}.{schema}.{table}`-style topic names. Immutable, cheap to copy.
class TopicTemplate {
 public:
  // Placeholders {source}, {schema}, {table}; anything else between braces is an error.
  static Result<TopicTemplate> Parse(const std::string& text);
  std::string Render(const TableId& table) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// One Kafka message built from a change.
struct OutMessage {
  std::string key;              // JSON of the key columns; empty: no key (truncates)
  std::string value;            // the envelope; unused for a tombstone
  bool tombstone = false;       // null value: compaction drops the key
  bool all_partitions = false;  // truncates go to every partition, ordered with each one's rows
  Op op = Op::kInsert;  // what this message says (a key change in debezium: delete + insert)
};

// The messages one change becomes. Entries are reused from one change to the next, so their
// buffers keep their capacity: building a message does not allocate once the sink is warm.
class MessageList {
 public:
  // Forgets the messages. Their buffers stay, but one grown past kKeepBytes by a large row is
  // released, so that a single huge value does not stay resident for the sink's lifetime.
  void Clear();
  // A new message, every field reset, for `op`.
  OutMessage& Add(Op op);
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const OutMessage& operator[](size_t i) const { return items_[i]; }
  std::vector<OutMessage>::const_iterator begin() const { return items_.begin(); }
  std::vector<OutMessage>::const_iterator end() const {
    return items_.begin() + static_cast<std::ptrdiff_t>(size_);
  }

 private:
  static constexpr size_t kKeepBytes = 1 << 20;
  std::vector<OutMessage> items_;
  size_t size_ = 0;
};

struct BuildOptions {
  Format format = Format::kSluice;
  bool tombstones = false;  // a null-value message after each delete (and after a key change)
};

// Appends the messages for `change` to `out`: usually one; a delete with tombstones two; a
// key-changing update in the debezium format a delete of the old key and a create of the new
// one (as Debezium does), with a tombstone between them when asked. `now_ms` is Debezium's
// top-level ts_ms (when the event was processed).
void BuildMessages(const Change& change, const BuildOptions& options, int64_t now_ms,
                   MessageList* out);

// {"id":1,...}: the key columns as JSON.
void AppendKeyJson(const Row& key, std::string* out);

// Debezium's schemaless change event (op c/u/d/r/t):
// {"before":..,"after":..,"source":{"version","connector":"sluice","name","ts_ms",
//  "snapshot","db","sequence","schema","table","txId","lsn","xmin"},"op","ts_ms","transaction"}
// Values are in the line format (numeric as strings, times as ISO 8601), unchanged TOAST
// columns are kDebeziumUnavailable. `op` overrides the change's own op (key-change split);
// `before`/`after` are what to write.
void AppendDebeziumValue(const Change& change, Op op, const Row* before, const Row* after,
                         int64_t now_ms, std::string* out);

// "c", "u", "d", "r", "t".
const char* DebeziumOp(Op op);

}  // namespace sluice::kafka
