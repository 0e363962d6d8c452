#include "core/change_pool.h"

#include <utility>

namespace sluice {

void ChangePool::Want(bool want) {
  std::vector<std::vector<Change>> freed;
  std::lock_guard lock(mu_);
  wanted_ += want ? 1 : -1;
  if (wanted_ == 0) freed.swap(kept_);
  // `freed` is destroyed after the lock is released (declared before it).
}

std::vector<Change> ChangePool::Take() {
  std::lock_guard lock(mu_);
  if (kept_.empty()) return {};
  std::vector<Change> out = std::move(kept_.back());
  kept_.pop_back();
  return out;
}

void ChangePool::Give(std::vector<Change>&& changes, size_t bytes) {
  if (bytes > max_batch_bytes_ || changes.empty()) return;  // the caller frees it
  std::lock_guard lock(mu_);
  if (wanted_ > 0 && kept_.size() < max_vectors_) kept_.push_back(std::move(changes));
}

BatchPtr ChangePool::Share(const std::shared_ptr<ChangePool>& pool, Batch&& batch) {
  if (!pool) return std::make_shared<const Batch>(std::move(batch));
  return BatchPtr(new Batch(std::move(batch)), [pool](const Batch* b) {
    auto* spent = const_cast<Batch*>(b);  // the last holder: nobody reads it any more
    pool->Give(std::move(spent->changes), spent->bytes);
    delete spent;
  });
}

}  // namespace sluice
