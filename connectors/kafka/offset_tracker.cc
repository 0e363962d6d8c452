#include "connectors/kafka/offset_tracker.h"

#include <algorithm>

namespace sluice::kafka {

void OffsetTracker::Assign(const std::vector<TopicPartition>& partitions) {
  std::lock_guard lock(mu_);
  for (const auto& tp : partitions) owned_.insert(tp);
}

void OffsetTracker::Revoke(const std::vector<TopicPartition>& partitions) {
  std::lock_guard lock(mu_);
  for (const auto& tp : partitions) {
    owned_.erase(tp);
    durable_.erase(tp);
    committed_.erase(tp);
    for (auto& [token, offsets] : pending_) offsets.erase(tp);
  }
}

void OffsetTracker::RevokeAll() {
  std::vector<TopicPartition> all = owned();
  Revoke(all);
}

void OffsetTracker::Record(uint64_t token, const OffsetMap& offsets) {
  std::lock_guard lock(mu_);
  last_recorded_ = std::max(last_recorded_, token);
  OffsetMap& entry = pending_[token];
  for (const auto& [tp, offset] : offsets) {
    if (owned_.count(tp)) entry[tp] = offset;
  }
  if (token <= confirmed_) ApplyConfirmedLocked();
}

void OffsetTracker::Confirm(uint64_t token) {
  std::lock_guard lock(mu_);
  if (token <= confirmed_) return;
  confirmed_ = token;
  ApplyConfirmedLocked();
}

void OffsetTracker::ApplyConfirmedLocked() {
  while (!pending_.empty() && pending_.begin()->first <= confirmed_) {
    for (const auto& [tp, offset] : pending_.begin()->second) {
      if (!owned_.count(tp)) continue;
      int64_t& d = durable_[tp];
      d = std::max(d, offset);
    }
    pending_.erase(pending_.begin());
  }
}

OffsetMap OffsetTracker::Committable() const {
  std::lock_guard lock(mu_);
  OffsetMap out;
  for (const auto& [tp, offset] : durable_) {
    auto it = committed_.find(tp);
    if (it == committed_.end() || it->second < offset) out[tp] = offset;
  }
  return out;
}

void OffsetTracker::Committed(const OffsetMap& offsets) {
  std::lock_guard lock(mu_);
  for (const auto& [tp, offset] : offsets) {
    if (!owned_.count(tp)) continue;
    int64_t& c = committed_[tp];
    c = std::max(c, offset);
  }
}

bool OffsetTracker::AllConfirmed() const {
  std::lock_guard lock(mu_);
  return confirmed_ >= last_recorded_;
}

uint64_t OffsetTracker::last_recorded() const {
  std::lock_guard lock(mu_);
  return last_recorded_;
}

uint64_t OffsetTracker::confirmed() const {
  std::lock_guard lock(mu_);
  return confirmed_;
}

std::vector<TopicPartition> OffsetTracker::owned() const {
  std::lock_guard lock(mu_);
  std::vector<TopicPartition> out;
  out.assign(owned_.begin(), owned_.end());
  return out;
}

}  // namespace sluice::kafka
