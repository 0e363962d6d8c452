// BoundedQueue: a blocking FIFO with a budget in items and in bytes. The budget is what
// bounds sluice's memory: a producer that finds the queue full waits (backpressure)
// instead of growing it. Thread-safe; any number of producers and consumers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace sluice {

template <typename T>
class BoundedQueue {
 public:
  // An item is admitted when the queue holds fewer than `max_items` and its bytes plus
  // the item's stay within `max_bytes` -- except into an empty queue, which admits any
  // single item so that one oversized item cannot block forever.
  BoundedQueue(size_t max_items, size_t max_bytes) : max_items_(max_items), max_bytes_(max_bytes) {}

  // Waits up to `timeout` for room. False (item untouched) on timeout or when closed.
  template <typename Rep, typename Period>
  bool Push(T& item, size_t bytes, std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mu_);
    bool room = not_full_.wait_for(lock, timeout, [&] { return closed_ || Fits(bytes); });
    if (!room || closed_) return false;
    items_.emplace_back(std::move(item), bytes);
    bytes_ += bytes;
    not_empty_.notify_one();
    return true;
  }

  // Waits up to `timeout` for an item. nullopt on timeout, or when closed and drained.
  template <typename Rep, typename Period>
  std::optional<T> Pop(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mu_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); })) {
      return std::nullopt;
    }
    if (items_.empty()) return std::nullopt;
    auto [item, bytes] = std::move(items_.front());
    items_.pop_front();
    bytes_ -= bytes;
    not_full_.notify_all();
    return std::move(item);
  }

  // Wakes every waiter; later pushes fail, pops drain what is left.
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  bool empty() const { return size() == 0; }

 private:
  bool Fits(size_t bytes) const {
    if (items_.empty()) return true;
    return items_.size() < max_items_ && bytes_ + bytes <= max_bytes_;
  }

  const size_t max_items_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<std::pair<T, size_t>> items_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace sluice
