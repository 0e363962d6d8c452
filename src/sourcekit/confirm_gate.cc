#include "sourcekit/confirm_gate.h"

#include <algorithm>

namespace sluice {

void ConfirmGate::StartAt(Lsn position) {
  std::lock_guard lock(mu_);
  Lsn at = hold_.valid() ? std::min(position, hold_) : position;
  confirmed_ = std::max(confirmed_, at);
}

void ConfirmGate::Emitted(const Checkpoint& checkpoint) {
  std::lock_guard lock(mu_);
  if (checkpoint.lsn > emitted_commit_) emitted_commit_ = checkpoint.lsn;
  emitted_token_ = std::max(emitted_token_, checkpoint.token);
}

void ConfirmGate::Durable(const Checkpoint& checkpoint) {
  std::lock_guard lock(mu_);
  durable_token_ = std::max(durable_token_, checkpoint.token);
  Lsn lsn = checkpoint.lsn;
  if (hold_.valid()) {
    if (checkpoint.token >= release_token_) {
      hold_ = Lsn();  // every range is durable, and what follows them carries their tables
    } else {
      lsn = std::min(lsn, hold_);
    }
  }
  confirmed_ = std::max(confirmed_, lsn);
}

void ConfirmGate::Hold(Lsn at) {
  std::lock_guard lock(mu_);
  hold_ = std::max(at, Lsn(1));
  release_token_ = UINT64_MAX;
  // Batches handed on before now lack the tables held back: what they confirmed no longer
  // says those tables are durable.
  confirmed_ = std::min(confirmed_, hold_);
  idle_ = std::min(idle_, hold_);
}

void ConfirmGate::ReleaseAt(uint64_t token) {
  std::lock_guard lock(mu_);
  if (hold_.valid()) release_token_ = token;
}

void ConfirmGate::Keepalive(Lsn wal_end, bool stream_quiet) {
  std::lock_guard lock(mu_);
  if (!stream_quiet || hold_.valid() || InFlightLocked()) return;
  idle_ = std::max(idle_, wal_end);
}

bool ConfirmGate::InFlightLocked() const {
  return confirmed_ < emitted_commit_ || durable_token_ < emitted_token_;
}

Lsn ConfirmGate::Flush() const {
  std::lock_guard lock(mu_);
  Lsn flush = std::max(confirmed_, idle_);
  return hold_.valid() ? std::min(flush, hold_) : flush;
}

Lsn ConfirmGate::confirmed() const {
  std::lock_guard lock(mu_);
  return confirmed_;
}

uint64_t ConfirmGate::durable_token() const {
  std::lock_guard lock(mu_);
  return durable_token_;
}

Lsn ConfirmGate::last_emitted_commit() const {
  std::lock_guard lock(mu_);
  return emitted_commit_;
}

bool ConfirmGate::holding() const {
  std::lock_guard lock(mu_);
  return hold_.valid();
}

}  // namespace sluice
