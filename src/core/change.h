// Change and Batch: the unit every source produces and every sink applies.
// See ../shared/DESIGN.md ("Change", "Position", "Checkpoint").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/lsn.h"
#include "core/value.h"

namespace sluice {

enum class Op : uint8_t { kRead, kInsert, kUpdate, kDelete, kTruncate };

// "read", "insert", "update", "delete", "truncate".
const char* OpName(Op op);

struct TableId {
  std::string source;  // the source's name in the config ("shop")
  std::string schema;  // "public"
  std::string name;    // "products"
  bool operator==(const TableId&) const = default;
  // "shop.public.products"
  std::string ToString() const;
};

struct Change {
  Op op = Op::kInsert;
  std::shared_ptr<const TableId> table;  // shared by every change of the table
  Row key;                     // replica-identity columns (new key for updates); empty for truncate
  std::optional<Row> old_key;  // set only when an update changed the key: sinks remove it
  std::optional<Row> before;   // old row, when the table's replica identity gives it
  std::optional<Row> after;    // new row for read/insert/update
  Position position;
  int64_t commit_time_us = 0;  // commit timestamp, microseconds since the Unix epoch (UTC)
  uint32_t xid = 0;            // transaction id; 0 for snapshot rows

  // Rough heap footprint, for queue budgets.
  size_t ApproxBytes() const;
};

// What the source can turn into its own checkpoint once a batch is durable in every sink.
// `lsn` is a commit end LSN that may be confirmed; `token` is source-defined and monotonic
// in emission order (the PostgreSQL source counts finished snapshot tables with it).
// A later checkpoint always subsumes an earlier one.
struct Checkpoint {
  Lsn lsn;
  uint64_t token = 0;
  bool empty() const { return !lsn.valid() && token == 0; }
};

struct Batch {
  uint64_t id = 0;  // assigned by the pipeline, increasing in emission order
  std::vector<Change> changes;
  Checkpoint checkpoint;  // empty when the batch completes no transaction
  size_t bytes = 0;       // sum of ApproxBytes() of the changes
};

using BatchPtr = std::shared_ptr<const Batch>;

}  // namespace sluice
