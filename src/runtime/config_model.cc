#include "runtime/config_model.h"

#include "util/printable.h"

namespace sluice {

std::string Diagnostic::Where() const {
  std::string name = Printable(where.file);
  if (where.line <= 0) return name;
  return name + ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
}

std::string Diagnostic::ToString() const { return Where() + ": " + message; }

size_t Config::MaxWaiters() const {
  if (http_max_waiters > 0) return http_max_waiters;
  return std::max<size_t>(1, http_limits.max_connections * 3 / 4);
}

const PluginConfig* Config::FindSource(const std::string& name) const {
  for (const auto& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::map<std::string, std::string> PipelineSourceOptions(const PluginConfig& source,
                                                         const PipelineConfig& pipeline,
                                                         const std::vector<OptionSpec>& specs) {
  std::map<std::string, std::string> out = source.options;
  for (const auto& [k, v] : pipeline.source_options) out[k] = v;
  for (auto& [k, v] : out) {
    const OptionSpec* spec = FindOption(specs, k);
    if (spec != nullptr && spec->one_per_pipeline) v = ExpandPipelineName(v, pipeline.name);
  }
  return out;
}

const PluginConfig* Config::FindSink(const std::string& name) const {
  for (const auto& s : sinks) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace sluice
