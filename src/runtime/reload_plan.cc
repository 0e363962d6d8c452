#include "runtime/reload_plan.h"

#include <nlohmann/json.hpp>

namespace sluice {

namespace {

nlohmann::json PluginJson(const PluginConfig* plugin) {
  if (plugin == nullptr) return nullptr;
  return {{"type", plugin->type}, {"options", plugin->options}};
}

nlohmann::json TransformJson(const TransformSpec& t) {
  return {{"kind", static_cast<int>(t.kind)},
          {"columns", t.columns},
          {"renames", t.renames},
          {"where_column", t.where_column},
          {"where_op", static_cast<int>(t.where_op)},
          {"where_literal", t.where_literal},
          {"where_literal_is_string", t.where_literal_is_string}};
}

}  // namespace

std::string PipelineFingerprint(const Config& config, const PipelineConfig& pipeline) {
  nlohmann::json tables = nlohmann::json::array();
  for (const TableSelector& t : pipeline.tables) tables.push_back({t.schema, t.table});
  nlohmann::json transforms = nlohmann::json::array();
  for (const TransformSpec& t : pipeline.transforms) transforms.push_back(TransformJson(t));
  nlohmann::json sinks = nlohmann::json::array();
  for (const SinkRef& s : pipeline.sinks) {
    sinks.push_back({{"sink", s.sink},
                     {"target", s.target},
                     {"options", s.options},
                     {"entry", PluginJson(config.FindSink(s.sink))}});
  }
  nlohmann::json j = {{"source", pipeline.source},
                      {"source_entry", PluginJson(config.FindSource(pipeline.source))},
                      {"source_options", pipeline.source_options},
                      {"tables", tables},
                      {"transforms", transforms},
                      {"sinks", sinks},
                      {"batch", {config.batch_max_changes, config.batch_max_bytes}},
                      {"queue", {config.queue_max_batches, config.queue_max_bytes}}};
  return j.dump();
}

ReloadPlan PlanReload(const Config& running, const Config& next) {
  ReloadPlan plan;
  for (const PipelineConfig& p : next.pipelines) {
    const PipelineConfig* old = nullptr;
    for (const PipelineConfig& o : running.pipelines) {
      if (o.name == p.name) old = &o;
    }
    if (old == nullptr) {
      plan.added.push_back(p.name);
    } else if (PipelineFingerprint(running, *old) != PipelineFingerprint(next, p)) {
      plan.changed.push_back(p.name);
    } else {
      plan.unchanged.push_back(p.name);
    }
  }
  for (const PipelineConfig& o : running.pipelines) {
    bool kept = false;
    for (const PipelineConfig& p : next.pipelines) kept = kept || p.name == o.name;
    if (!kept) plan.removed.push_back(o.name);
  }
  auto differs = [&](bool changed, const char* what) {
    if (changed) plan.needs_restart.emplace_back(what);
  };
  differs(running.state_dir != next.state_dir, "state_dir");
  differs(running.http_listen != next.http_listen, "http.listen");
  differs(running.http_token != next.http_token, "http.token");
  differs(running.http_limits != next.http_limits, "http limits");
  differs(running.log_format != next.log_format, "log.format");
  differs(running.log_level != next.log_level, "log.level");
  return plan;
}

}  // namespace sluice
