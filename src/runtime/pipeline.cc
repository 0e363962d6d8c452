#include "runtime/pipeline.h"

#include <spdlog/spdlog.h>

#include "core/backoff.h"

namespace sluice {

using std::chrono::milliseconds;

namespace {
constexpr milliseconds kPollInterval(100);
}

Pipeline::Pipeline(std::string name, std::unique_ptr<Source> source, std::vector<NamedSink> sinks,
                   std::vector<std::unique_ptr<Transform>> transforms, PipelineLimits limits)
    : name_(std::move(name)),
      source_(std::move(source)),
      transforms_(std::move(transforms)),
      coordinator_(sinks.size(), [this](const Checkpoint& cp) { source_->Confirm(cp); }) {
  for (auto& s : sinks) {
    sinks_.push_back(std::make_unique<SinkSlot>(std::move(s.name), std::move(s.sink), limits));
  }
}

Pipeline::~Pipeline() {
  if (supervisor_.joinable()) {
    Abort();
    supervisor_.join();
  }
}

void Pipeline::Start() {
  supervisor_ = std::thread([this] { Supervise(); });
}

void Pipeline::RequestStop() { stop_ = true; }

void Pipeline::Abort() {
  stop_ = true;
  abort_ = true;
  for (auto& slot : sinks_) slot->queue.Close();
  std::lock_guard lock(mu_);
  wake_.notify_all();
}

Status Pipeline::Wait() {
  if (supervisor_.joinable()) supervisor_.join();
  std::lock_guard lock(mu_);
  return first_error_;
}

void Pipeline::Fail(const Status& status) {
  {
    std::lock_guard lock(mu_);
    if (first_error_.ok()) first_error_ = status;
  }
  spdlog::error("pipeline {}: {}", name_, status.ToString());
  stop_ = true;
}

bool Pipeline::SleepFor(milliseconds d) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, d, [this] { return abort_.load(); });
  return !abort_;
}

bool Pipeline::Emit(Batch&& batch, const std::function<void()>& while_waiting) {
  batch.id = ++next_batch_id_;
  ApplyTransforms(transforms_, batch);
  // A batch whose changes were all filtered out still travels: its checkpoint must pass
  // through every sink in order before it can be confirmed.
  coordinator_.Track(batch.id, batch.checkpoint);
  size_t bytes = batch.bytes;
  auto shared = std::make_shared<const Batch>(std::move(batch));
  for (auto& slot : sinks_) {
    BatchPtr item = shared;
    while (!slot->queue.Push(item, bytes, kPollInterval)) {
      if (stop_ || slot->failed) return false;
      if (while_waiting) while_waiting();
    }
  }
  return true;
}

Status Pipeline::Retry(SinkSlot& slot, const char* what, const std::function<Status()>& fn) {
  Backoff backoff(milliseconds(100), milliseconds(30000));
  while (true) {
    Status s = fn();
    if (s.ok()) {
      if (backoff.attempts() > 0) {
        spdlog::info("pipeline {} sink {}: {} succeeded after {} retries", name_, slot.name, what,
                     backoff.attempts());
      }
      return s;
    }
    if (s.code() != StatusCode::kUnavailable) return s;
    auto delay = backoff.Next();
    spdlog::warn("pipeline {} sink {}: {} failed, retrying in {} ms: {}", name_, slot.name, what,
                 delay.count(), s.message());
    if (!SleepFor(delay)) return Status::Cancelled("aborted while retrying " + std::string(what));
  }
}

void Pipeline::RunSink(size_t index) {
  SinkSlot& slot = *sinks_[index];
  auto fail = [&](const Status& s) {
    slot.failed = true;
    if (s.code() != StatusCode::kCancelled) Fail(s.WithContext("sink " + slot.name));
  };
  Status opened = Retry(slot, "open", [&] { return slot.sink->Open(); });
  if (!opened.ok()) return fail(opened);

  uint64_t last_written = 0;
  bool unflushed = false;
  while (!abort_) {
    std::optional<BatchPtr> item = slot.queue.Pop(kPollInterval);
    if (item) {
      const Batch& batch = **item;
      Status s = Retry(slot, "write", [&] { return slot.sink->Write(batch); });
      if (!s.ok()) return fail(s);
      last_written = batch.id;
      unflushed = true;
      if (index == 0) changes_applied_ += batch.changes.size();
    }
    if (unflushed && (slot.queue.empty() || slot.sink->WantsFlush())) {
      Status s = Retry(slot, "flush", [&] { return slot.sink->Flush(); });
      if (!s.ok()) return fail(s);
      coordinator_.Durable(index, last_written);
      unflushed = false;
    }
    if (!item && stop_ && slot.queue.empty() && source_done_) return;
  }
}

void Pipeline::Supervise() {
  for (size_t i = 0; i < sinks_.size(); ++i) {
    sinks_[i]->thread = std::thread([this, i] { RunSink(i); });
  }
  spdlog::info("pipeline {}: started", name_);
  Status s = source_->Run(*this, stop_);
  if (!s.ok() && s.code() != StatusCode::kCancelled) Fail(s.WithContext("source"));
  stop_ = true;
  source_done_ = true;
  for (auto& slot : sinks_) slot->thread.join();
  if (!abort_) source_->Shutdown();
  done_ = true;
  spdlog::info("pipeline {}: stopped", name_);
}

}  // namespace sluice
