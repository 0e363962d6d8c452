#include "runtime/pipeline_parts.h"

namespace sluice {

namespace {

std::map<std::string, std::string> Merge(std::map<std::string, std::string> base,
                                         const std::map<std::string, std::string>& over) {
  for (const auto& [k, v] : over) base[k] = v;
  return base;
}

}  // namespace

Result<PipelineParts> BuildPipelineParts(const Config& config, const PipelineConfig& pipeline,
                                         const Registry& registry, DeadLetters* dead_letters,
                                         MetricsRegistry* metrics) {
  PipelineParts parts;
  parts.state = std::make_unique<StateStore>(config.state_dir + "/pipelines/" + pipeline.name);
  SLUICE_RETURN_IF_ERROR(parts.state->Open());

  const PluginConfig* src = config.FindSource(pipeline.source);
  const SourcePlugin* src_plugin = src ? registry.FindSource(src->type) : nullptr;
  if (!src_plugin) return Status::InvalidArgument("unknown source '" + pipeline.source + "'");
  SourceContext sctx;
  sctx.pipeline = pipeline.name;
  sctx.source = src->name;
  sctx.options =
      WithDefaults(src_plugin->options, PipelineSourceOptions(*src, pipeline, src_plugin->options));
  sctx.tables = pipeline.tables;
  sctx.state = parts.state.get();
  sctx.batch_max_changes = config.batch_max_changes;
  sctx.batch_max_bytes = config.batch_max_bytes;
  if (metrics) sctx.metrics = MetricScope(metrics, {{"pipeline", pipeline.name}});
  parts.source_status = sctx.status;
  parts.durability = sctx.durability;
  parts.commit_positions = src_plugin->commit_positions;
  parts.wait_reach = src_plugin->wait_reach;
  auto source = src_plugin->create(sctx);
  if (!source.ok()) return source.status().WithContext("source " + src->name);
  parts.source = std::move(source).value();

  for (const SinkRef& ref : pipeline.sinks) {
    const PluginConfig* snk = config.FindSink(ref.sink);
    const SinkPlugin* snk_plugin = snk ? registry.FindSink(snk->type) : nullptr;
    if (!snk_plugin) return Status::InvalidArgument("unknown sink '" + ref.sink + "'");
    SinkContext kctx;
    kctx.pipeline = pipeline.name;
    kctx.sink = snk->name;
    kctx.target = ref.target;
    kctx.options = WithDefaults(snk_plugin->options, Merge(snk->options, ref.options));
    kctx.dead_letters = dead_letters;
    if (metrics)
      kctx.metrics = MetricScope(metrics, {{"pipeline", pipeline.name}, {"sink", snk->name}});
    auto sink = snk_plugin->create(kctx);
    if (!sink.ok()) return sink.status().WithContext("sink " + snk->name);
    parts.sinks.push_back({snk->name, std::move(sink).value()});
  }
  return parts;
}

}  // namespace sluice
