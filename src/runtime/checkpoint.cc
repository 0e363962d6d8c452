#include "runtime/checkpoint.h"

#include <algorithm>

namespace sluice {

CheckpointCoordinator::CheckpointCoordinator(size_t num_sinks,
                                             std::function<void(const Checkpoint&)> confirm)
    : confirm_(std::move(confirm)), durable_(num_sinks, 0) {}

void CheckpointCoordinator::Track(uint64_t batch_id, const Checkpoint& checkpoint) {
  std::lock_guard lock(mu_);
  pending_.push_back({batch_id, checkpoint});
}

void CheckpointCoordinator::Durable(size_t sink, uint64_t batch_id) {
  std::lock_guard lock(mu_);
  if (sink >= durable_.size() || batch_id <= durable_[sink]) return;
  durable_[sink] = batch_id;
  uint64_t all = *std::min_element(durable_.begin(), durable_.end());
  if (all <= durable_all_) return;
  durable_all_ = all;
  Checkpoint newest;
  while (!pending_.empty() && pending_.front().id <= all) {
    if (!pending_.front().checkpoint.empty()) newest = pending_.front().checkpoint;
    pending_.pop_front();
  }
  if (newest.empty()) return;
  confirmed_ = newest;
  if (confirm_) confirm_(newest);
}

uint64_t CheckpointCoordinator::durable_batch() const {
  std::lock_guard lock(mu_);
  return durable_all_;
}

size_t CheckpointCoordinator::in_flight() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

Checkpoint CheckpointCoordinator::confirmed() const {
  std::lock_guard lock(mu_);
  return confirmed_;
}

}  // namespace sluice
