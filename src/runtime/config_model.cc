#include "runtime/config_model.h"

#include "util/printable.h"

namespace sluice {

std::string Diagnostic::ToString() const {
  const std::string name = Printable(where.file);
  if (where.line <= 0) return name + ": " + message;
  return name + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
         message;
}

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

const PluginConfig* Config::FindSink(const std::string& name) const {
  for (const auto& s : sinks) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace sluice
