// DeadLetters: where a sink puts a change it can never apply, with the reason, so that the
// change is not lost and does not block the pipeline.
#pragma once

#include <string>

#include "core/change.h"
#include "core/status.h"

namespace sluice {

// Thread-safe. Write() returns only once the entry is durable: a sink may count the
// change as done (and let the checkpoint pass it) only after that.
class DeadLetters {
 public:
  virtual ~DeadLetters() = default;
  virtual Status Write(const std::string& pipeline, const std::string& sink, const Change& change,
                       const std::string& reason) = 0;
};

}  // namespace sluice
