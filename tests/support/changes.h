// Building changes and batches in tests: the few shapes every sink and transform test needs,
// so each test states only what differs (op, key, row, position).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/change.h"

namespace sluice::test {

inline Value IntValue(int64_t v) { return Value::Of(ValueKind::kInt, std::to_string(v)); }
inline Value StrValue(std::string text) { return Value::Of(ValueKind::kString, std::move(text)); }

inline std::shared_ptr<const TableId> MakeTable(std::string source, std::string schema,
                                                std::string name) {
  return std::make_shared<const TableId>(
      TableId{std::move(source), std::move(schema), std::move(name)});
}

// A change of `table` keyed by the integer column "id", at position (lsn, seq). `after` is
// the new row (leave empty for deletes and truncates).
inline Change KeyedChange(Op op, std::shared_ptr<const TableId> table, int64_t id, uint64_t lsn,
                          uint64_t seq = 1, std::optional<Row> after = std::nullopt) {
  Change c;
  c.op = op;
  c.table = std::move(table);
  c.key = {{"id", IntValue(id)}};
  c.after = std::move(after);
  c.position = {Lsn(lsn), seq};
  return c;
}

// A batch of `changes` with pipeline batch id `id`; `bytes` is their ApproxBytes() sum.
inline Batch MakeBatch(std::vector<Change> changes, uint64_t id = 0) {
  Batch b;
  b.id = id;
  for (const Change& c : changes) b.bytes += c.ApproxBytes();
  b.changes = std::move(changes);
  return b;
}

}  // namespace sluice::test
