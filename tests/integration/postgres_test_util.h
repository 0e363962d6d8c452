// Helpers shared by the PostgreSQL end-to-end tests: source options in a config, the
// source's state file, and what the snapshot read.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "support/stdout_pipeline.h"

namespace sluice::test {

// `config` (from SluiceConfig/StdoutConfig) with `lines` added to source `src`, each
// "    name: value\n".
inline std::string WithSourceOptions(std::string config, const std::string& lines) {
  const std::string anchor = "    type: postgres\n";
  auto at = config.find(anchor);
  if (at != std::string::npos) config.insert(at + anchor.size(), lines);
  return config;
}

// The postgres source's state file of `pipeline`, parsed; null when absent or torn.
inline nlohmann::json PgState(const TempDir& dir, const std::string& pipeline) {
  return nlohmann::json::parse(ReadFile(dir.File("state/pipelines/" + pipeline + "/postgres.json")),
                               nullptr, false);
}

// True when no key was read twice: the snapshot was not repeated.
inline bool ReadKeysAreUnique(const AppliedState& st) {
  std::set<std::string> seen;
  for (const auto& c : st.changes) {
    if (c["op"] == "read" && !seen.insert(c["key"].dump()).second) return false;
  }
  return !seen.empty();
}

}  // namespace sluice::test
