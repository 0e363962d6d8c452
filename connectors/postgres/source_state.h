// SourceState: what the PostgreSQL source keeps across restarts in
// `<state_dir>/pipelines/<name>/postgres.json`: whether its slot was created, and how far
// the snapshot got, table by table and key range by key range (sourcekit/snapshot_ranges.h).
// Pure: no I/O.
#pragma once

#include <string>

#include "core/status.h"
#include "sourcekit/snapshot_ranges.h"

namespace sluice::pg {

struct SourceState {
  std::string slot;
  bool slot_created = false;  // once true, a missing slot means lost changes
  std::string snapshot_lsn;   // the slot's consistent point, for people reading it
  SnapshotRecord snapshot;    // tables done, and the ranges of those under way
};

// The state as JSON text (the file's content).
std::string SerializeState(const SourceState& state);
// Parses what SerializeState wrote (or an older file holding only `tables_done`).
// DataLoss naming `where` when the text is not such a document.
Result<SourceState> ParseState(const std::string& text, const std::string& where);

}  // namespace sluice::pg
