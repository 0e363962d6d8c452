// null sink: takes every change and keeps nothing. Durable at once. For benchmarks (the
// cost of a source and the pipeline alone) and for dry runs of a source.
#pragma once

#include "core/registry.h"
#include "core/sink.h"

namespace sluice {

// Used by one sink thread.
class NullSink : public Sink {
 public:
  explicit NullSink(const SinkContext& ctx);

  Status Open() override { return Status::Ok(); }
  Status Check() override { return Status::Ok(); }
  Status Write(const Batch& batch) override;
  Status Flush() override { return Status::Ok(); }

 private:
  Counter& changes_;
};

void RegisterNullSink(Registry& registry);

}  // namespace sluice
