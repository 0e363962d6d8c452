#include "sinks/null/null_sink.h"

namespace sluice {

NullSink::NullSink(const SinkContext& ctx)
    : changes_(ctx.metrics.GetCounter("sluice_null_changes_total", "Changes the null sink took")) {}

Status NullSink::Write(const Batch& batch) {
  changes_.Add(batch.changes.size());
  return Status::Ok();
}

void RegisterNullSink(Registry& registry) {
  SinkPlugin p;
  p.type = "null";
  p.description = "Takes every change and keeps nothing (benchmarks, dry runs)";
  p.create = [](const SinkContext& ctx) -> Result<std::unique_ptr<Sink>> {
    return std::unique_ptr<Sink>(std::make_unique<NullSink>(ctx));
  };
  registry.AddSink(std::move(p));
}

}  // namespace sluice
