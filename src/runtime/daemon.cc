#include "runtime/daemon.h"

#include <spdlog/spdlog.h>

#include <thread>

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
  sctx.options = WithDefaults(src_plugin->options, Merge(src->options, pipeline.source_options));
  sctx.tables = pipeline.tables;
  sctx.state = parts.state.get();
  sctx.batch_max_changes = config.batch_max_changes;
  sctx.batch_max_bytes = config.batch_max_bytes;
  if (metrics) sctx.metrics = MetricScope(metrics, {{"pipeline", pipeline.name}});
  parts.source_status = sctx.status;
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

Daemon::Daemon(Config config, const Registry& registry)
    : config_(std::move(config)), registry_(registry) {}

int Daemon::Run(const std::atomic<int>& signals, std::chrono::milliseconds shutdown_timeout) {
  FileDeadLetters dead_letters(config_.state_dir + "/dead_letters");
  std::vector<std::unique_ptr<StateStore>> states;  // outlive the pipelines below
  std::vector<std::unique_ptr<Pipeline>> pipelines;
  bool failed = false;
  for (const PipelineConfig& pc : config_.pipelines) {
    auto parts = BuildPipelineParts(config_, pc, registry_, &dead_letters);
    if (!parts.ok()) {
      spdlog::error("pipeline {}: {}", pc.name, parts.status().ToString());
      failed = true;
      continue;
    }
    states.push_back(std::move(parts->state));
    pipelines.push_back(std::make_unique<Pipeline>(
        pc.name, std::move(parts->source), std::move(parts->sinks), BuildTransforms(pc.transforms),
        PipelineLimits{config_.queue_max_batches, config_.queue_max_bytes}));
  }
  for (auto& p : pipelines) p->Start();

  bool stopping = false;
  bool aborted = false;
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (true) {
    bool all_done = true;
    for (auto& p : pipelines) all_done = all_done && p->Done();
    if (all_done) break;
    int n = signals.load();
    if (n >= 1 && !stopping) {
      stopping = true;
      deadline = std::chrono::steady_clock::now() + shutdown_timeout;
      spdlog::info("stopping: draining pipelines (a second signal stops at once)");
      for (auto& p : pipelines) p->RequestStop();
    }
    if (!aborted && (n >= 2 || std::chrono::steady_clock::now() > deadline)) {
      aborted = true;
      spdlog::warn("stopping now without draining; nothing unflushed was confirmed");
      for (auto& p : pipelines) p->Abort();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& p : pipelines) {
    if (!p->Wait().ok()) failed = true;
  }
  return failed ? kExitFailure : kExitOk;
}

}  // namespace sluice
