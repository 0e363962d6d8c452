// `sluice check --connect`: builds every pipeline's source and sinks and asks each to check
// its target (server settings, tables, keys, privileges) without creating anything.
#pragma once

#include <string>
#include <vector>

#include "core/registry.h"
#include "runtime/config_model.h"
#include "runtime/pipeline.h"

namespace sluice {

// The tables as they leave the transforms `specs`: columns and key columns renamed,
// selected or dropped as the transforms do.
std::vector<TableSchema> AfterTransforms(const std::vector<TableSchema>& tables,
                                         const std::vector<TransformSpec>& specs);

// Asks every sink of the pipeline whether it can serve the source's tables as the
// transforms leave them (Sink::CheckSchema). Ok when the source cannot describe them now.
// Used by `check --connect` and before a pipeline starts.
Status CheckSinkSchemas(const PipelineConfig& pipeline, Source& source,
                        std::vector<NamedSink>& sinks);

// One line per problem found, each starting with the file:line:column of the pipeline (or of
// its sink) and naming the part, redacted (core/redact.h); empty when all is well.
std::vector<std::string> CheckConnections(const Config& config, const Registry& registry);

}  // namespace sluice
