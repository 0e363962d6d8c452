// FileDeadLetters: the default dead-letter destination, one JSON-lines file per pipeline in
// the state directory (`<state_dir>/dead_letters/<pipeline>.jsonl`). Each line holds the time,
// pipeline, sink, reason and the change in its stdout line form.
#pragma once

#include <mutex>
#include <string>

#include "core/dead_letters.h"

namespace sluice {

// Thread-safe; every Write() is fsynced before it returns.
class FileDeadLetters : public DeadLetters {
 public:
  explicit FileDeadLetters(std::string dir) : dir_(std::move(dir)) {}
  Status Write(const std::string& pipeline, const std::string& sink, const Change& change,
               const std::string& reason) override;
  std::string PathFor(const std::string& pipeline) const;
  uint64_t written() const { return written_; }

 private:
  std::string dir_;
  std::mutex mu_;
  uint64_t written_ = 0;
};

}  // namespace sluice
