#include "core/source_durability.h"

namespace sluice {

void SourceDurability::HandedOnUpTo(Lsn position) {
  uint64_t seen = handed_on_.load(std::memory_order_relaxed);
  while (position.value() > seen) {
    if (handed_on_.compare_exchange_weak(seen, position.value(), std::memory_order_acq_rel)) {
      std::lock_guard lock(mu_);
      if (listener_) listener_(position);
      return;
    }
  }
}

void SourceDurability::SetListener(std::function<void(Lsn)> listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

}  // namespace sluice
