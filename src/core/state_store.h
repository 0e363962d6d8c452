// StateStore: small named documents in a pipeline's state directory, written atomically
// (write to a temporary file, fsync, rename, fsync the directory), so a crash at any
// moment leaves either the old document or the new one, never a torn one.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"

namespace sluice {

// Thread-safe for distinct names; callers serialise writes to one name.
class StateStore {
 public:
  // `dir` is created (with parents) by Open().
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}
  Status Open();

  // The document, nullopt if it was never written.
  Result<std::optional<std::string>> Load(const std::string& name) const;
  Status Save(const std::string& name, const std::string& content);
  Status Remove(const std::string& name);

  const std::string& dir() const { return dir_; }
  std::string PathOf(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

// Creates `dir` and its parents.
Status MakeDirs(const std::string& dir);
// Writes `content` to `path` atomically (see StateStore). `crash_before_rename` exists for
// tests: it leaves the temporary file behind, as a crash at that point would.
Status WriteFileAtomic(const std::string& path, const std::string& content,
                       bool crash_before_rename = false);

}  // namespace sluice
