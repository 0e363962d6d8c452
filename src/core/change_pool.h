// ChangePool: spent change vectors kept for reuse. Once every sink is done with a batch,
// its changes come back here with the buffers of their rows and strings, and a source that
// fills many rows of one shape (the snapshot) overwrites them instead of allocating and
// freeing a row, a key and their strings per change, in two threads.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/change.h"

namespace sluice {

class ChangePool {
 public:
  // At most `max_vectors` kept, none from a batch over `max_batch_bytes`.
  ChangePool(size_t max_vectors, size_t max_batch_bytes)
      : max_vectors_(max_vectors), max_batch_bytes_(max_batch_bytes) {}

  // Keeps what comes back only while some source wants it (a pipeline that only streams
  // keeps nothing); Want(false) also frees what is kept.
  void Want(bool want);
  // A spent vector (its size is the count it held; every change is to be overwritten), or
  // an empty one.
  std::vector<Change> Take();
  // `changes` of a batch of `bytes`: kept if wanted and there is room, freed otherwise.
  void Give(std::vector<Change>&& changes, size_t bytes);

  // `batch` as a shared batch whose changes go back to `pool` (when not null) once the
  // last holder lets go.
  static BatchPtr Share(const std::shared_ptr<ChangePool>& pool, Batch&& batch);

 private:
  const size_t max_vectors_;
  const size_t max_batch_bytes_;
  std::mutex mu_;
  int wanted_ = 0;                         // guarded by mu_
  std::vector<std::vector<Change>> kept_;  // guarded by mu_
};

// Readies `text`, about to be overwritten with a value of `size` bytes, so that a reused
// change keeps no buffer far larger than its value: one over 256 bytes and over twice
// `size` is dropped (the text is then empty). What a spent change holds stays in
// proportion to the batch it was in.
inline void FitBuffer(std::string& text, size_t size) {
  if (text.capacity() > 256 && text.capacity() > 2 * size) std::string().swap(text);
}

}  // namespace sluice
