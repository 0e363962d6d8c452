// SourceState: what the PostgreSQL source keeps across restarts in
// `<state_dir>/pipelines/<name>/postgres.json`: whether its slot was created, and how far
// the snapshot got, table by table and key range by key range. Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::pg {

// How one table's snapshot is split, and which parts of it are durable in every sink.
// Range i of n = bounds.size() + 1 holds the keys k with bounds[i-1] < k <= bounds[i]; the
// first range is open below, the last open above, so together they cover every key, also
// keys inserted after the bounds were chosen. Bounds are key values in PostgreSQL's text
// form, compared as a row in key order.
struct TablePlan {
  std::vector<std::string> key;                  // the key columns the bounds are made of
  std::vector<std::vector<std::string>> bounds;  // ascending
  std::map<size_t, int64_t> done;                // finished range -> rows it held
  size_t ranges() const { return bounds.size() + 1; }
  int64_t rows_done() const;
};

struct SourceState {
  std::string slot;
  bool slot_created = false;               // once true, a missing slot means lost changes
  std::string snapshot_lsn;                // the slot's consistent point, for people reading it
  std::set<std::string> tables_done;       // tables whose snapshot is durable in every sink
  std::map<std::string, TablePlan> plans;  // tables whose snapshot is under way
};

// Records range `range` of `table` as durable. When it was the table's last missing range,
// the table moves to `tables_done` and its plan is dropped. A table already done is left alone.
void MarkRangeDone(SourceState* state, const std::string& table, size_t range, int64_t rows);

// The state as JSON text (the file's content).
std::string SerializeState(const SourceState& state);
// Parses what SerializeState wrote (or an older file holding only `tables_done`).
// DataLoss naming `where` when the text is not such a document.
Result<SourceState> ParseState(const std::string& text, const std::string& where);

}  // namespace sluice::pg
