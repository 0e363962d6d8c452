// SourceDurability: what a source knows beyond the checkpoints it emits,
// for readers that wait until their own commit is in the sinks (/wait; docs/architecture.md,
// "Waiting for a commit"). The source writes it, its pipeline reads it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

#include "core/lsn.h"

namespace sluice {

// Shared by a source (the writer, on its own thread) and its pipeline (any thread).
// Thread-safe.
class SourceDurability {
 public:
  // Every transaction whose commit ends at or below `position` has been handed on (in the
  // batches emitted before this call), or never will be, because it touched no piped
  // table. Tells the pipeline what a checkpoint cannot: that an idle stream has read past
  // other tables' commits. Called on the source's thread, never while checkpoints are held.
  // A position lower than one reported before is ignored.
  void HandedOnUpTo(Lsn position);

  // From now until ReleaseCheckpoints(), the LSNs of the checkpoints the source emits do not
  // mean that every table's changes up to them were handed on: some tables' changes are
  // held back, to be replayed later. The pipeline answers no wait from them meanwhile.
  // Called on the source's thread, so that it is ordered with the batches it emits.
  void HoldCheckpoints() { held_.store(true, std::memory_order_release); }
  void ReleaseCheckpoints() { held_.store(false, std::memory_order_release); }

  Lsn handed_on() const { return Lsn(handed_on_.load(std::memory_order_acquire)); }
  bool checkpoints_held() const { return held_.load(std::memory_order_acquire); }

  // `listener` gets each new handed_on() position, on the source's thread, within the call
  // (so it is ordered with the batches the source emits). Set by the pipeline before the
  // source runs; it must not block.
  void SetListener(std::function<void(Lsn)> listener);

 private:
  std::atomic<uint64_t> handed_on_{0};
  std::atomic<bool> held_{false};
  std::mutex mu_;
  std::function<void(Lsn)> listener_;  // guarded by mu_
};

}  // namespace sluice
