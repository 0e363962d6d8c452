// Sink: the interface every sink connector implements (stdout, redis, elasticsearch, ...).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/metrics.h"
#include "core/options.h"
#include "core/source.h"
#include "core/status.h"

namespace sluice {

class DeadLetters;
class SinkReader;

struct SinkContext {
  std::string pipeline;  // pipeline name
  std::string sink;      // sink name from the config ("search")
  std::string target;    // what follows the sink name in the pipe ("products"); may be empty
  Options options;       // sink defaults overridden by the pipe's key=value options
  DeadLetters* dead_letters = nullptr;  // outlives the sink
  MetricScope metrics;                  // labelled {pipeline, sink}
};

// Owned by its pipeline and used by one sink thread only (no internal locking needed).
//
// Contract: Write() may buffer; Flush() returns Ok only when everything written so far is
// durable in the target (acknowledged by it, not merely sent) or dead-lettered. Applying a
// change must be idempotent: a change is applied for a key only if its position is not
// older than the one already applied, so replaying any suffix of the stream is harmless.
// Unavailable from Write or Flush means "retry the same call later"; the sink keeps what it
// has buffered. Any other error stops the pipeline.
class Sink {
 public:
  virtual ~Sink() = default;

  // Connects to the target and prepares it (create an index, load a script).
  virtual Status Open() = 0;
  // Connects and checks only, creating nothing. For `sluice check --connect`.
  virtual Status Check() = 0;
  // Checks the sink's settings against the tables it will receive (columns as they leave
  // the pipeline's transforms), e.g. that a key template names only carried columns.
  // For `sluice check --connect`; InvalidArgument names the setting at fault.
  virtual Status CheckSchema(const std::vector<TableSchema>& tables) {
    (void)tables;
    return Status::Ok();
  }
  virtual Status Write(const Batch& batch) = 0;
  virtual Status Flush() = 0;
  // The sink's read path back out of its target, for `sluice verify`; NotFound when the
  // sink cannot be read back (the default). Needs Check() or Open() first.
  virtual Result<std::unique_ptr<SinkReader>> Reader();
  // True when the sink wants Flush() before taking more: its buffer is full, or a sink that
  // sends from Write() has sent enough to report durable. The runner also flushes whenever
  // its input queue runs dry.
  virtual bool WantsFlush() const { return true; }
};

}  // namespace sluice
