#include "runtime/checkpoint.h"

#include <algorithm>

namespace sluice {

CheckpointCoordinator::CheckpointCoordinator(size_t num_sinks,
                                             std::function<void(const Checkpoint&)> confirm)
    : confirm_(std::move(confirm)), durable_(num_sinks, 0), positions_(num_sinks) {}

void CheckpointCoordinator::Track(uint64_t batch_id, const Checkpoint& checkpoint,
                                  Lsn wait_position) {
  std::lock_guard lock(mu_);
  pending_.push_back({batch_id, checkpoint, wait_position});
}

void CheckpointCoordinator::Durable(size_t sink, uint64_t batch_id) {
  std::lock_guard lock(mu_);
  if (sink >= durable_.size() || batch_id <= durable_[sink]) return;
  // The batches this sink made durable just now are all still pending: only batches every
  // sink made durable are dropped, and this sink had not made these durable before.
  auto first = std::partition_point(pending_.begin(), pending_.end(),
                                    [&](const Entry& e) { return e.id <= durable_[sink]; });
  for (auto it = first; it != pending_.end() && it->id <= batch_id; ++it) {
    positions_[sink] = std::max(positions_[sink], it->wait_position);
  }
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

void CheckpointCoordinator::HandedOn(Lsn position) {
  std::lock_guard lock(mu_);
  // Batches every sink made durable are no longer pending: with none pending, every sink
  // has everything tracked. Otherwise the newest batch carries the position to the sinks
  // that have not made it durable yet (Durable() picks it up), and those that have get it now.
  if (!pending_.empty()) {
    Entry& newest = pending_.back();
    newest.wait_position = std::max(newest.wait_position, position);
  }
  for (size_t s = 0; s < durable_.size(); ++s) {
    if (pending_.empty() || durable_[s] >= pending_.back().id) {
      positions_[s] = std::max(positions_[s], position);
    }
  }
}

Lsn CheckpointCoordinator::sink_position(size_t sink) const {
  std::lock_guard lock(mu_);
  return sink < positions_.size() ? positions_[sink] : Lsn();
}

Checkpoint CheckpointCoordinator::confirmed() const {
  std::lock_guard lock(mu_);
  return confirmed_;
}

}  // namespace sluice
