// The config model: the parsed and validated form of a sluice YAML file, as everything
// downstream of the loader (config.h, the only yaml-cpp user) sees it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/options.h"
#include "core/source.h"
#include "runtime/http_limits.h"

namespace sluice {

// 1-based line and column in the config file, as an editor shows them.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

// One config mistake: "sluice.yaml:12:30: unknown sink 'serch' (known sinks: search, out)".
struct Diagnostic {
  SourceLocation where;
  std::string message;
  std::string ToString() const;
  // "sluice.yaml:12:30" (the file alone when there is no line).
  std::string Where() const;
};

// A named `sources:` or `sinks:` entry.
struct PluginConfig {
  std::string name;
  std::string type;
  std::map<std::string, std::string> options;  // every key but `type`, interpolated, as text
  SourceLocation where;
};

// `where COLUMN OP LITERAL`
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kIsNull, kIsNotNull };

struct TransformSpec {
  enum class Kind { kSelect, kDrop, kRename, kWhere };
  Kind kind = Kind::kSelect;
  std::vector<std::string> columns;                          // select, drop
  std::vector<std::pair<std::string, std::string>> renames;  // rename: (from, to)
  std::string where_column;                                  // where
  CompareOp where_op = CompareOp::kEq;
  std::string where_literal;             // text of the literal (unquoted)
  bool where_literal_is_string = false;  // it was quoted: compare as text
  SourceLocation where;
};

// The sink end of a pipeline: `search.products key=value ...`
struct SinkRef {
  std::string sink;                            // name of a `sinks:` entry
  std::string target;                          // may be empty
  std::map<std::string, std::string> options;  // pipe key=value options (override the sink's)
  SourceLocation where;
};

// When a pipeline counts as ready for /readyz. `readiness:` at the top level sets it for
// every pipeline; a structured pipeline may override keys in its own `readiness:`.
struct ReadinessPolicy {
  bool ready_during_snapshot = false;    // a pipeline still snapshotting may count as ready
  std::chrono::milliseconds max_lag{0};  // max_lag_seconds; 0: no bound
  uint64_t max_lag_bytes = 0;            // 0: no bound
};

struct PipelineConfig {
  std::string name;
  std::string source;                 // name of a `sources:` entry
  std::vector<TableSelector> tables;  // at least one
  std::vector<TransformSpec> transforms;
  std::vector<SinkRef> sinks;  // at least one; the pipe form gives exactly one
  std::map<std::string, std::string> source_options;  // structured form `source_options:`
  ReadinessPolicy readiness;  // the global policy with this pipeline's overrides
  SourceLocation where;
};

struct Config {
  std::string file;
  std::string state_dir = "./state";
  std::string http_listen = "127.0.0.1:8080";
  // Bearer token for /status and /metrics; required when http_listen is not loopback.
  // A secret: never logged or shown.
  std::string http_token;
  HttpServerLimits http_limits;  // http.max_connections, request_timeout, idle_timeout
  // http.max_waiters: /wait requests open at once; 0: the default (see MaxWaiters()).
  size_t http_max_waiters = 0;
  // /healthz fails when a pipeline thread has been inside one call this long.
  std::chrono::milliseconds wedged_after = std::chrono::minutes(5);
  // How long SIGTERM/SIGINT may take to drain, flush and confirm before sluice stops anyway.
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(30);
  ReadinessPolicy readiness;
  std::string log_format = "text";  // text | json | auto (json when stderr is not a terminal)
  std::string log_level = "info";   // trace | debug | info | warn | error
  // How often a snapshotting pipeline logs its progress.
  std::chrono::milliseconds log_progress_interval = std::chrono::seconds(10);
  size_t batch_max_changes = 1000;
  size_t batch_max_bytes = 1 << 20;
  size_t queue_max_batches = 16;
  size_t queue_max_bytes = 64u << 20;
  std::vector<PluginConfig> sources;
  std::vector<PluginConfig> sinks;
  std::vector<PipelineConfig> pipelines;

  // Open /wait requests allowed at once: http.max_waiters, by default three quarters of
  // http.max_connections, so that waits never hold every connection a probe needs.
  size_t MaxWaiters() const;
  const PluginConfig* FindSource(const std::string& name) const;
  const PluginConfig* FindSink(const std::string& name) const;
};

// The options `pipeline` gives its source: the `sources:` entry's, overridden by the
// pipeline's `source_options:`, with `{pipeline}` expanded in those `specs` marks
// one_per_pipeline. Defaults are not filled in.
std::map<std::string, std::string> PipelineSourceOptions(const PluginConfig& source,
                                                         const PipelineConfig& pipeline,
                                                         const std::vector<OptionSpec>& specs);

}  // namespace sluice
