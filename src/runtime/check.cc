#include "runtime/check.h"

#include "runtime/daemon.h"
#include "runtime/dead_letter_file.h"

namespace sluice {

std::vector<std::string> CheckConnections(const Config& config, const Registry& registry) {
  std::vector<std::string> problems;
  FileDeadLetters dead_letters(config.state_dir + "/dead_letters");
  for (const PipelineConfig& pc : config.pipelines) {
    auto parts = BuildPipelineParts(config, pc, registry, &dead_letters);
    if (!parts.ok()) {
      problems.push_back("pipeline " + pc.name + ": " + parts.status().message());
      continue;
    }
    Status s = parts->source->Check();
    if (!s.ok())
      problems.push_back("pipeline " + pc.name + ": source " + pc.source + ": " + s.message());
    for (auto& sink : parts->sinks) {
      Status k = sink.sink->Check();
      if (!k.ok())
        problems.push_back("pipeline " + pc.name + ": sink " + sink.name + ": " + k.message());
    }
  }
  return problems;
}

}  // namespace sluice
