// stdout sink: each change as one JSON line (see core/change_json.h) on standard output or
// appended to a file. Durable = written and flushed, and fsynced when writing to a file.
#pragma once

#include <string>

#include "core/registry.h"
#include "core/sink.h"

namespace sluice {

struct StdoutSinkOptions {
  std::string path;  // empty: standard output
  bool fsync = true;
  size_t buffer_bytes = 1 << 20;
};

// Used by one sink thread; owns its file descriptor.
class StdoutSink : public Sink {
 public:
  explicit StdoutSink(StdoutSinkOptions options) : options_(std::move(options)) {}
  ~StdoutSink() override;

  Status Open() override;
  Status Check() override;
  Status Write(const Batch& batch) override;
  Status Flush() override;
  bool WantsFlush() const override { return buffer_.size() >= options_.buffer_bytes; }
  // With a file: its lines replayed per key, newest position first (stdout_reader.cc).
  Result<std::unique_ptr<SinkReader>> Reader() override;

 private:
  StdoutSinkOptions options_;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::string buffer_;
};

void RegisterStdoutSink(Registry& registry);

}  // namespace sluice
