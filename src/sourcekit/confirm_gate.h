// ConfirmGate: the rule for what a database source may tell its server is durable. Pure (no
// I/O): the source feeds it what it handed on, what the sinks made durable and what the
// server's keepalives say; it answers the position that may be sent as flush_lsn.
//
// The rule (docs/architecture.md, "Checkpoints" and "A table added later"):
// - A commit end LSN is confirmable once a checkpoint carrying it came back durable.
// - Never backwards: a confirmed position only grows, except that a hold lowers it.
// - A hold at `at` caps every confirmation at `at` until a durable checkpoint whose token
//   reaches the release token; a position confirmed before the hold is lowered to `at`
//   (the batches that confirmed it lacked the tables held back).
// - While nothing is in flight (no open transaction or gathered batch in the stream, every
//   commit and token handed on durable, no hold), a keepalive's position is confirmable:
//   the walsender has decoded everything up to it, and a transaction still open there
//   commits beyond it.
#pragma once

#include <cstdint>
#include <mutex>

#include "core/change.h"
#include "core/lsn.h"

namespace sluice {

// Positions are 64-bit and only grow over a source's life (PostgreSQL: commit LSNs).
// Owned by the source. Thread-safe (one lock): the source thread reports what it handed on
// and keepalives, sink threads report durable checkpoints.
class ConfirmGate {
 public:
  // The slot's position when streaming (re)starts: confirmed from the start.
  void StartAt(Lsn position);
  // A batch was handed on; `checkpoint` is the one it carries (may be empty).
  void Emitted(const Checkpoint& checkpoint);
  // Every batch up to the one carrying `checkpoint` is durable in every sink.
  void Durable(const Checkpoint& checkpoint);
  // See the rule above. `at` of 0 is taken as 1, so a hold is never "none".
  void Hold(Lsn at);
  // The hold ends with the first durable checkpoint whose token is at least `token`.
  void ReleaseAt(uint64_t token);
  // A keepalive at `wal_end`; `stream_quiet`: the stream has no open transaction and
  // nothing gathered that was not handed on.
  void Keepalive(Lsn wal_end, bool stream_quiet);

  // What may be sent to the server as flushed: never past a hold.
  Lsn Flush() const;
  // The highest commit end LSN durable in every sink (after the hold's cap).
  Lsn confirmed() const;
  // The newest token of a durable checkpoint.
  uint64_t durable_token() const;
  // End LSN of the newest commit handed on (invalid before the first).
  Lsn last_emitted_commit() const;
  bool holding() const;

 private:
  bool InFlightLocked() const;

  mutable std::mutex mu_;
  Lsn confirmed_;
  Lsn idle_;  // a keepalive's position, confirmed while nothing was in flight
  Lsn emitted_commit_;
  uint64_t emitted_token_ = 0;
  uint64_t durable_token_ = 0;
  Lsn hold_;                             // invalid: no hold
  uint64_t release_token_ = UINT64_MAX;  // while holding; the token that ends the hold
};

}  // namespace sluice
