#include "connectors/postgres/source_state.h"

#include <nlohmann/json.hpp>

namespace sluice::pg {

std::string SerializeState(const SourceState& state) {
  nlohmann::json j;
  j["slot"] = state.slot;
  j["slot_created"] = state.slot_created;
  j["snapshot_lsn"] = state.snapshot_lsn;
  WriteSnapshotRecord(state.snapshot, &j);
  return j.dump(2) + "\n";
}

Result<SourceState> ParseState(const std::string& text, const std::string& where) {
  SourceState st;
  try {
    auto j = nlohmann::json::parse(text);
    st.slot = j.value("slot", "");
    st.slot_created = j.value("slot_created", false);
    st.snapshot_lsn = j.value("snapshot_lsn", "");
    st.snapshot = ReadSnapshotRecord(j);
  } catch (const std::exception& e) {  // nlohmann's exceptions, stoul's
    return Status::DataLoss("state file " + where + " is corrupt: " + e.what());
  }
  return st;
}

}  // namespace sluice::pg
