#include "core/registry.h"

namespace sluice {

void Registry::AddSource(SourcePlugin plugin) {
  std::string type = plugin.type;
  sources_[type] = std::move(plugin);
}

void Registry::AddSink(SinkPlugin plugin) {
  std::string type = plugin.type;
  sinks_[type] = std::move(plugin);
}

const SourcePlugin* Registry::FindSource(const std::string& type) const {
  auto it = sources_.find(type);
  return it == sources_.end() ? nullptr : &it->second;
}

const SinkPlugin* Registry::FindSink(const std::string& type) const {
  auto it = sinks_.find(type);
  return it == sinks_.end() ? nullptr : &it->second;
}

std::vector<const SourcePlugin*> Registry::Sources() const {
  std::vector<const SourcePlugin*> out;
  for (const auto& [name, p] : sources_) out.push_back(&p);
  return out;
}

std::vector<const SinkPlugin*> Registry::Sinks() const {
  std::vector<const SinkPlugin*> out;
  for (const auto& [name, p] : sinks_) out.push_back(&p);
  return out;
}

}  // namespace sluice
