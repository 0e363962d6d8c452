#include "runtime/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "util/backoff.h"
#include "util/redact.h"

namespace sluice {

using std::chrono::milliseconds;

namespace {
constexpr milliseconds kPollInterval(100);

// Commit time of the oldest streamed change in `batch`; 0 when it has none.
int64_t OldestCommitUs(const Batch& batch) {
  int64_t oldest = 0;
  for (const Change& c : batch.changes) {
    if (c.op == Op::kRead || c.commit_time_us <= 0) continue;
    if (oldest == 0 || c.commit_time_us < oldest) oldest = c.commit_time_us;
  }
  return oldest;
}

std::vector<std::string> SinkNames(const std::vector<NamedSink>& sinks) {
  std::vector<std::string> names;
  for (const NamedSink& s : sinks) names.push_back(s.name);
  return names;
}
}  // namespace

Pipeline::Pipeline(std::string name, std::unique_ptr<Source> source, std::vector<NamedSink> sinks,
                   std::vector<std::unique_ptr<Transform>> transforms, PipelineLimits limits,
                   PipelineTelemetry telemetry)
    : name_(std::move(name)),
      source_(std::move(source)),
      transforms_(std::move(transforms)),
      coordinator_(sinks.size(), [this](const Checkpoint& cp) { source_->Confirm(cp); }),
      telemetry_{
          telemetry.metrics,
          telemetry.source_status ? telemetry.source_status : std::make_shared<SourceStatus>(),
          telemetry.durability, telemetry.commit_positions, telemetry.wait_reach},
      waiters_(
          SinkNames(sinks), [this](size_t i) { return HealthOf(i); }, telemetry.wait_reach),
      lag_seconds_(telemetry_.metrics.GetGauge(
          "sluice_lag_seconds",
          "Age of the oldest change read from the source but not yet durable in every sink")) {
  for (auto& s : sinks) {
    sinks_.push_back(std::make_unique<SinkSlot>(std::move(s.name), std::move(s.sink), limits,
                                                telemetry_.metrics));
  }
  if (telemetry_.durability && telemetry_.commit_positions) {
    telemetry_.durability->SetListener([this](Lsn at) { HandedOn(at); });
  }
}

Pipeline::~Pipeline() {
  if (supervisor_.joinable()) {
    Abort();
    supervisor_.join();
  }
  if (telemetry_.durability) telemetry_.durability->SetListener({});
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
  if (int64_t oldest = OldestCommitUs(batch); oldest > 0) {
    std::lock_guard lock(lag_mu_);
    unapplied_commits_.emplace_back(batch.id, oldest);
  }
  ApplyTransforms(transforms_, batch);
  // A batch whose changes were all filtered out still travels: its checkpoint must pass
  // through every sink in order before it can be confirmed. Its LSN answers waits unless
  // the source holds some tables' changes back (SourceDurability::HoldCheckpoints).
  Lsn wait_position;
  if (telemetry_.commit_positions &&
      !(telemetry_.durability && telemetry_.durability->checkpoints_held())) {
    wait_position = batch.checkpoint.lsn;
  }
  coordinator_.Track(batch.id, batch.checkpoint, wait_position);
  size_t bytes = batch.bytes;
  BatchPtr shared = ChangePool::Share(change_pool_, std::move(batch));
  // Handing over a batch, or waiting for room (backpressure), is progress for /healthz.
  telemetry_.source_status->Beat();
  for (auto& slot : sinks_) {
    BatchPtr item = shared;
    while (!slot->queue.Push(item, bytes, kPollInterval)) {
      if (stop_ || slot->failed) return false;
      telemetry_.source_status->Beat();
      if (while_waiting) while_waiting();
    }
  }
  return true;
}

void Pipeline::SetUp(SinkSlot& slot, bool up, const std::string& error) {
  {
    std::lock_guard lock(slot.error_mu);
    slot.last_error = up ? "" : error;
  }
  slot.up = up;
  slot.metrics.up.Set(up ? 1 : 0);
}

Status Pipeline::Retry(SinkSlot& slot, const char* what, const std::function<Status()>& fn) {
  Backoff backoff(milliseconds(100), milliseconds(30000));
  while (true) {
    Status s;
    {
      HeartbeatCall call(slot.beat, what);
      s = fn();
    }
    if (s.ok()) {
      if (backoff.attempts() > 0) {
        SetUp(slot, true, "");
        spdlog::info("pipeline {} sink {}: up again, {} succeeded after {} retries", name_,
                     slot.name, what, backoff.attempts());
      }
      return s;
    }
    if (s.code() != StatusCode::kUnavailable) return s;
    slot.metrics.retries.Add();
    auto delay = backoff.Next();
    if (backoff.attempts() == 1) {
      SetUp(slot, false, std::string(what) + " failed: " + s.message());
      spdlog::warn("pipeline {} sink {}: down, {} failed, retrying in {} ms: {}", name_, slot.name,
                   what, delay.count(), s.message());
    } else {
      spdlog::warn("pipeline {} sink {}: {} failed, retrying in {} ms: {}", name_, slot.name, what,
                   delay.count(), s.message());
    }
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
  Unflushed counts;
  while (!abort_) {
    std::optional<BatchPtr> item = slot.queue.Pop(kPollInterval);
    if (item) {
      const Batch& batch = **item;
      Status s = Retry(slot, "write", [&] { return slot.sink->Write(batch); });
      if (!s.ok()) return fail(s);
      last_written = batch.id;
      unflushed = true;
      counts.Add(batch);
      if (index == 0) changes_applied_ += batch.changes.size();
    }
    if (unflushed && (slot.queue.empty() || slot.sink->WantsFlush())) {
      Status s = Retry(slot, "flush", [&] { return slot.sink->Flush(); });
      if (!s.ok()) return fail(s);
      counts.Flushed(slot.metrics, NowUs());
      coordinator_.Durable(index, last_written);
      waiters_.SinkDurable(index, coordinator_.sink_position(index));
      unflushed = false;
    }
    if (!item && stop_ && slot.queue.empty() && source_done_) return;
  }
}

void Pipeline::Supervise() {
  for (size_t i = 0; i < sinks_.size(); ++i) {
    sinks_[i]->thread = std::thread([this, i] { RunSink(i); });
  }
  spdlog::info("pipeline {}: started with {} sink(s)", name_, sinks_.size());
  Status s = source_->Run(*this, stop_);
  if (!s.ok() && s.code() != StatusCode::kCancelled) Fail(s.WithContext("source"));
  stop_ = true;
  source_done_ = true;
  for (auto& slot : sinks_) slot->thread.join();
  if (!abort_) source_->Shutdown();
  std::string failure;
  {
    std::lock_guard lock(mu_);
    if (!first_error_.ok()) failure = first_error_.ToString();
  }
  telemetry_.source_status->Set(SourcePhase::kStopped, failure);
  waiters_.Close(failure.empty() ? "stopped" : Redact(failure));
  done_ = true;
  spdlog::info("pipeline {}: stopped", name_);
}

double Pipeline::LagSeconds() {
  uint64_t durable = coordinator_.durable_batch();
  std::lock_guard lock(lag_mu_);
  while (!unapplied_commits_.empty() && unapplied_commits_.front().first <= durable) {
    unapplied_commits_.pop_front();
  }
  if (unapplied_commits_.empty()) return 0;
  return std::max(0.0, static_cast<double>(NowUs() - unapplied_commits_.front().second) / 1e6);
}

void Pipeline::HandedOn(Lsn position) {
  if (telemetry_.durability->checkpoints_held()) return;  // the source's contract; a guard
  coordinator_.HandedOn(position);
  for (size_t i = 0; i < sinks_.size(); ++i) {
    waiters_.SinkDurable(i, coordinator_.sink_position(i));
  }
}

SinkHealth Pipeline::HealthOf(size_t sink) {
  SinkHealth h;
  if (sink >= sinks_.size()) return h;
  SinkSlot& slot = *sinks_[sink];
  h.up = slot.up;
  std::lock_guard lock(slot.error_mu);
  h.last_error = Redact(slot.last_error);
  return h;
}

PipelineReport Pipeline::Report() {
  PipelineReport r;
  r.name = name_;
  r.phase = telemetry_.source_status->phase();
  r.detail = Redact(telemetry_.source_status->detail());
  if (auto since = telemetry_.source_status->SinceBeat(); since && !source_done_) {
    r.source_silent_seconds = std::chrono::duration<double>(*since).count();
  }
  r.running = !done_;
  {
    std::lock_guard lock(mu_);
    if (!first_error_.ok()) r.failure = Redact(first_error_.ToString());
  }
  Checkpoint confirmed = coordinator_.confirmed();
  if (confirmed.lsn.value() != 0) r.confirmed_lsn = confirmed.lsn.ToString();
  r.lag_seconds = LagSeconds();
  lag_seconds_.Set(r.lag_seconds);
  r.in_flight_batches = coordinator_.in_flight();
  auto now = Heartbeat::Clock::now();
  for (auto& slot : sinks_) {
    SinkReport s;
    s.name = slot->name;
    s.up = slot->up;
    {
      std::lock_guard lock(slot->error_mu);
      s.last_error = Redact(slot->last_error);
    }
    std::chrono::nanoseconds in_call{0};
    if (const char* what = slot->beat.InCall(now, &in_call)) {
      s.in_call = what;
      s.in_call_seconds = std::chrono::duration<double>(in_call).count();
    }
    s.queue_batches = static_cast<double>(slot->queue.size());
    s.queue_bytes = static_cast<double>(slot->queue.bytes());
    slot->metrics.queue_batches.Set(s.queue_batches);
    slot->metrics.queue_bytes.Set(s.queue_bytes);
    r.sinks.push_back(std::move(s));
  }
  return r;
}

}  // namespace sluice
