// `sluice check --connect`: builds every pipeline's source and sinks and asks each to check
// its target (server settings, tables, keys, privileges) without creating anything.
#pragma once

#include <string>
#include <vector>

#include "core/registry.h"
#include "runtime/config.h"

namespace sluice {

// One line per problem found, each starting with the file:line:column of the pipeline (or of
// its sink) and naming the part; empty when all is well.
std::vector<std::string> CheckConnections(const Config& config, const Registry& registry);

}  // namespace sluice
