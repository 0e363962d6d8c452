// PipelineParts: a pipeline's source, sinks and state store, built from the config through
// the plugin registry but not started. Shared by the daemon, `check --connect` and `verify`.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/registry.h"
#include "core/state_store.h"
#include "runtime/config_model.h"
#include "runtime/pipeline.h"

namespace sluice {

class DeadLetters;

// The parts of one pipeline, built but not started.
struct PipelineParts {
  std::unique_ptr<StateStore> state;
  std::unique_ptr<Source> source;
  std::shared_ptr<SourceStatus> source_status;   // the source keeps it current
  std::shared_ptr<SourceDurability> durability;  // and this
  bool commit_positions = false;                 // SourcePlugin::commit_positions
  std::function<Lsn(Lsn)> wait_reach;            // SourcePlugin::wait_reach
  std::vector<NamedSink> sinks;
};

// Creates the source and sinks of `pipeline` through the registry. `dead_letters`, `metrics`
// (null: each part keeps private metrics) and the returned state store must outlive the parts.
Result<PipelineParts> BuildPipelineParts(const Config& config, const PipelineConfig& pipeline,
                                         const Registry& registry, DeadLetters* dead_letters,
                                         MetricsRegistry* metrics = nullptr);

}  // namespace sluice
