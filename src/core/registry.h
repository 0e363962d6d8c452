// Registry: maps the `type:` string users write in YAML to a plugin's option table and
// factory. Plugins register from one explicit list (src/runtime/builtin_plugins.cc).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/options.h"
#include "core/sink.h"
#include "core/source.h"
#include "core/status.h"

namespace sluice {

struct SourcePlugin {
  std::string type;
  std::string description;
  std::vector<OptionSpec> options;
  std::function<Result<std::unique_ptr<Source>>(const SourceContext&)> create;
  // The LSNs of its checkpoints are commit end positions, emitted in commit order: a
  // checkpoint at L means every transaction that commits at or below L was handed on
  // (PostgreSQL). Only such a source's pipelines answer /wait.
  bool commit_positions = false;
  // With commit_positions: given that every commit ending at or below P is durable, the
  // highest position a wait may ask for that this answers as well, because no commit can
  // end between them. Empty: P itself.
  std::function<Lsn(Lsn)> wait_reach;
};

struct SinkPlugin {
  std::string type;
  std::string description;
  std::vector<OptionSpec> options;  // allowed both on the sink and as pipe key=value options
  std::function<Result<std::unique_ptr<Sink>>(const SinkContext&)> create;
};

// Filled once at start-up, read-only afterwards (safe to share between threads then).
class Registry {
 public:
  void AddSource(SourcePlugin plugin);
  void AddSink(SinkPlugin plugin);
  const SourcePlugin* FindSource(const std::string& type) const;
  const SinkPlugin* FindSink(const std::string& type) const;
  std::vector<const SourcePlugin*> Sources() const;
  std::vector<const SinkPlugin*> Sinks() const;

 private:
  std::map<std::string, SourcePlugin> sources_;
  std::map<std::string, SinkPlugin> sinks_;
};

}  // namespace sluice
