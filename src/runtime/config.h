// The config loader: reads a sluice YAML file into the config model (config_model.h). It is
// the only user of yaml-cpp; everything downstream sees the model's structs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/options.h"
#include "core/registry.h"
#include "runtime/config_model.h"
#include "runtime/interpolate.h"

namespace sluice {

struct LoadResult {
  Config config;
  std::vector<Diagnostic> errors;  // empty means valid; otherwise every mistake found
  bool ok() const { return errors.empty(); }
};

// Parses, interpolates ${VAR} / ${VAR:-default}, and validates against the registry's
// option tables. Reports every error at once, each with file:line:column.
LoadResult LoadConfigFile(const std::string& path, const Registry& registry, const EnvLookup& env);
LoadResult LoadConfigString(const std::string& text, const std::string& file_name,
                            const Registry& registry, const EnvLookup& env);

}  // namespace sluice
