// PostgresSource, streaming half: reading pgoutput from the slot, confirming what every sink
// made durable, and the lag it reports. (Set-up is in postgres_source.cc, the snapshot in
// postgres_snapshot.cc.)
#include <spdlog/spdlog.h>

#include "connectors/postgres/change_builder.h"
#include "connectors/postgres/pgoutput_decoder.h"
#include "connectors/postgres/postgres_source.h"
#include "connectors/postgres/toast_lookup.h"

namespace sluice::pg {

using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {
constexpr auto kLagPollInterval = std::chrono::seconds(5);
// About 50-100 changes at the rate a walsender decodes; nothing is confirmable before the
// transaction's commit, so the pause costs no latency a sink could see.
constexpr microseconds kGatherInTransaction(1000);
// A flush position that moved (sinks made more durable, or an idle keepalive) is told to the
// server this soon, not only every status_interval: WAL is released sooner, and
// pg_replication_slots (which `sluice verify` waits on) follows closely.
constexpr auto kPromptStatus = std::chrono::seconds(1);
// While the snapshot of an added table runs beside the stream and the socket is empty, the
// source waits this long for a piece before it looks at the socket again.
constexpr milliseconds kSnapshotPoll(5);
// What the stream reads ahead while the sinks are full: enough to ride out a pause of a
// sink without the walsender blocking, little next to the queues (limits.queue_bytes).
constexpr size_t kReadAheadBytes = 8u << 20;
}  // namespace

Status PostgresSource::Stream(PgConn& meta, BatchEmitter& out, const std::atomic<bool>& stop,
                              SnapshotRun* run) {
  KeyColumns keys;
  for (const auto& t : tables_) keys[{t.schema, t.name}] = t.key_columns;
  ChangeBuilder builder(ctx_.source, std::move(keys), types_);
  if (run != nullptr) {
    TableNames held;
    for (const RangeJob& job : run->workers->jobs()) {
      held.insert({job.table->schema, job.table->name});
    }
    builder.HoldBack(std::move(held));
  }
  Batch batch;
  auto housekeeping = [&] { KeepReadingWhileBlocked(); };
  auto emit = [&]() -> Status {
    if (options_.toast_lookup) SLUICE_RETURN_IF_ERROR(FillUnchanged(meta, types_, &batch));
    gate_.Emitted(batch.checkpoint);
    size_t last_size = batch.changes.size();
    bool ok = out.Emit(std::move(batch), housekeeping);
    blocked_since_.reset();
    batch = Batch{};
    // Room for as many changes as the last batch had: full batches while a large transaction
    // streams (no reallocation moving every change), little when changes come one by one.
    batch.changes.reserve(last_size);
    return ok ? Status::Ok() : Status::Cancelled("stopping");
  };
  last_status_ = std::chrono::steady_clock::now();
  if (run == nullptr) ctx_.status->Set(SourcePhase::kStreaming, "slot " + options_.slot);
  bool stream_idle = false;  // the last look at the socket found nothing
  while (!stop) {
    ctx_.status->Beat();  // an idle stream wakes every 100 ms (Next's timeout below)
    if (!stream_) {
      // Closed while the sinks were full, which they no longer are. The server sends a
      // transaction cut off midway again from its start.
      SLUICE_RETURN_IF_ERROR(Reopen(meta));
      builder.AbandonTransaction();
      if (run == nullptr) ctx_.status->Set(SourcePhase::kStreaming, "slot " + options_.slot);
    }
    if (StatusDue()) SLUICE_RETURN_IF_ERROR(SendStatus(false));
    SLUICE_RETURN_IF_ERROR(PollLag(meta, gate_.Flush()));
    if (state_failing_) RetryUnrecorded();
    bool pumping = run != nullptr && !builder.in_transaction();
    if (pumping) {
      // Between transactions, a piece of the snapshot, after what the stream gathered: the
      // checkpoints' tokens then grow in the order batches are handed on. When the stream
      // had nothing, this waits for the readers instead (a piece wakes it at once), and the
      // socket is looked at again within kSnapshotPoll.
      auto pumped = PumpSnapshot(
          *run, meta, out, stream_idle ? kSnapshotPoll : milliseconds(0), housekeeping, [&] {
            return batch.changes.empty() && batch.checkpoint.empty() ? Status::Ok() : emit();
          });
      if (!pumped.ok()) return pumped.status();
      if (run->all_emitted()) {
        gate_.ReleaseAt(emitted_token_);
        ctx_.durability->ReleaseCheckpoints();  // what comes next is the replay, every table
        replay_ = true;
        return Status::Ok();
      }
      if (!stream_) continue;  // closed while the piece waited for room
    }
    bool pending = !batch.changes.empty() || !batch.checkpoint.empty();
    // A batch that ends in a commit is handed on as soon as nothing more has arrived, for
    // latency. Inside a transaction nothing can be confirmed before its commit anyway, so
    // the batch waits for more (up to the batch limits): handing on a few changes at a time
    // whenever sluice catches up with the walsender costs a thread wake-up, a sink write
    // and flush per handful of changes.
    bool hand_on_when_idle = pending && !builder.in_transaction();
    // Inside a transaction, pausing briefly when the socket is empty lets the walsender's
    // one-message packets pile up: one wake-up per many changes, not per change.
    auto gather = builder.in_transaction() ? kGatherInTransaction : microseconds(0);
    auto wait = hand_on_when_idle || pumping ? milliseconds(0) : milliseconds(100);
    auto next = stream_->Next(wait, gather);
    if (!next.ok()) return next.status();
    stream_idle = !next->has_value();
    if (stream_idle) {
      if (pending) SLUICE_RETURN_IF_ERROR(emit());
      continue;
    }
    const StreamMessage& m = **next;
    if (m.wal_end > received_) received_ = m.wal_end;
    if (m.type == 'k') {
      // Every commit the server decoded up to wal_end has arrived before this keepalive: once
      // the gathered ones are handed on, all of them are (for /wait; never while some tables
      // are held back, nor inside a transaction).
      if (!gate_.holding() && !builder.in_transaction()) {
        if (pending) SLUICE_RETURN_IF_ERROR(emit());
        ctx_.durability->HandedOnUpTo(m.wal_end);
      }
      // Nothing in flight and no transaction open: everything up to the server's sent
      // position is accounted for, so the slot may advance past WAL that other tables wrote.
      gate_.Keepalive(m.wal_end, !builder.in_transaction() && !pending);
      if (m.reply_requested) SLUICE_RETURN_IF_ERROR(SendStatus(false));
      continue;
    }
    auto decoded = DecodePgoutput(m.payload);
    if (!decoded.ok()) return decoded.status();
    auto effect = builder.Apply(*decoded, &batch);
    if (!effect.ok()) return effect.status();
    if (effect->schema_change) SLUICE_RETURN_IF_ERROR(OnSchemaChange(*effect->schema_change));
    if (effect->commit) batch.checkpoint = Checkpoint{effect->commit_end, emitted_token_};
    if (batch.changes.size() >= ctx_.batch_max_changes || batch.bytes >= ctx_.batch_max_bytes) {
      SLUICE_RETURN_IF_ERROR(emit());
    }
  }
  return Status::Cancelled("stopping");
}

Status PostgresSource::OnSchemaChange(const ChangeBuilder::SchemaChange& change) {
  auto list = [](const std::vector<std::string>& columns) {
    std::string out;
    for (const std::string& c : columns) out += (out.empty() ? "" : ", ") + c;
    return "(" + out + ")";
  };
  std::string what = "table " + change.table->schema + "." + change.table->name +
                     " changed: " + list(change.before) + " -> " + list(change.after) +
                     " (column, type OID(typmod), key)";
  schema_changes_.Add();
  if (!options_.follow_schema_changes) {
    return Status::FailedPrecondition(
        what +
        "; on_schema_change is stop, so the pipeline stops before passing on any change "
        "made after it (set on_schema_change: follow to pass them on)");
  }
  spdlog::info("pipeline {}: {}; its changes go on with the new columns", ctx_.pipeline, what);
  return Status::Ok();
}

void PostgresSource::KeepReadingWhileBlocked() {
  if (!stream_) return;
  auto now = std::chrono::steady_clock::now();
  if (!blocked_since_) blocked_since_ = now;
  bool reply = false;
  Status s = stream_->ReadAhead(kReadAheadBytes, &received_, &reply);
  if (!s.ok()) {
    // Reconnects once the sinks take changes, as after closing it on purpose.
    spdlog::warn("pipeline {}: replication connection lost while the sinks are full: {}",
                 ctx_.pipeline, s.message());
    stream_.reset();
    return;
  }
  if (reply || StatusDue()) (void)SendStatus(false);  // a broken connection shows on the next read
  auto blocked = std::chrono::duration_cast<milliseconds>(now - *blocked_since_);
  if (blocked < options_.blocked_timeout) return;
  (void)SendStatus(false);
  replaced_walsender_ = std::to_string(PQbackendPID(stream_->conn().get()));
  spdlog::warn(
      "pipeline {}: the sinks have taken nothing for {} ms (blocked_timeout); closing the "
      "replication connection so that the server's walsender is not left blocked writing to it "
      "({} bytes read ahead are dropped). Nothing is lost: it reopens after the last change "
      "handed on once they take changes again, and the slot keeps the WAL until then",
      ctx_.pipeline, blocked.count(), stream_->read_ahead_bytes());
  paused_.Add();
  ctx_.status->Set(SourcePhase::kStreaming,
                   "paused: the sinks take nothing; replication connection closed until they do");
  stream_.reset();
}

Status PostgresSource::PollLag(PgConn& meta, Lsn confirmed) {
  auto now = std::chrono::steady_clock::now();
  if (now - last_lag_poll_ < kLagPollInterval) return Status::Ok();
  last_lag_poll_ = now;
  auto r = meta.Exec("SELECT pg_current_wal_lsn()");
  if (!r.ok()) return r.status();
  Lsn end = Lsn::Parse(GetText(r->get(), 0, 0)).value_or(Lsn());
  lag_bytes_.Set(end > confirmed ? static_cast<double>(end.value() - confirmed.value()) : 0.0);
  return Status::Ok();
}

bool PostgresSource::StatusDue() const {
  auto since = std::chrono::steady_clock::now() - last_status_;
  if (since >= options_.status_interval) return true;
  return gate_.Flush() > sent_flush_ && since >= kPromptStatus;
}

Status PostgresSource::SendStatus(bool reply_requested) {
  if (!stream_) return Status::Ok();
  Lsn flush = gate_.Flush();
  last_status_ = std::chrono::steady_clock::now();
  sent_flush_ = flush;
  confirmed_lsn_.Set(static_cast<double>(flush.value()));
  return stream_->SendStatus(std::max(received_, flush), flush, reply_requested);
}

bool PostgresSource::RecordRangesUpTo(uint64_t token) {
  std::vector<HandedOnRange> ranges;
  {
    std::lock_guard lock(state_mu_);
    ranges = handed_on_.Between(gate_.durable_token(), token);
  }
  if (ranges.empty()) return true;
  Status s = RecordState([&](SourceState& st) {
    for (const HandedOnRange& r : ranges) MarkRangeDone(&st.snapshot, r.table, r.range, r.rows);
  });
  if (!s.ok()) return false;
  for (const HandedOnRange& r : ranges) {
    spdlog::debug("pipeline {}: snapshot of {} range {} durable", ctx_.pipeline, r.table, r.range);
  }
  return true;
}

void PostgresSource::Confirm(const Checkpoint& checkpoint) {
  // Snapshot progress is recorded before the LSN may reach the server: a crash in between
  // then re-reads nothing that is done. If it cannot be recorded (a full disk), nothing of
  // this checkpoint is confirmed: the state directory is part of what must be durable.
  auto covers = [](const Checkpoint& a, const Checkpoint& b) {
    return a.token >= b.token && a.lsn >= b.lsn;
  };
  if (checkpoint.token > gate_.durable_token() && !RecordRangesUpTo(checkpoint.token)) {
    std::lock_guard lock(state_mu_);
    if (!unrecorded_ || covers(checkpoint, *unrecorded_)) unrecorded_ = checkpoint;
    return;
  }
  gate_.Durable(checkpoint);
  std::lock_guard lock(state_mu_);
  if (unrecorded_ && covers(checkpoint, *unrecorded_)) unrecorded_.reset();
}

void PostgresSource::RetryUnrecorded() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_retry_ < std::chrono::seconds(1)) return;
  last_retry_ = now;
  std::optional<Checkpoint> cp;
  {
    std::lock_guard lock(state_mu_);
    cp = unrecorded_;
  }
  if (cp) Confirm(*cp);
}

void PostgresSource::Shutdown() {
  if (!stream_) return;
  Status s = SendStatus(false);
  spdlog::info("pipeline {}: confirmed {} to slot {}{}", ctx_.pipeline, gate_.Flush().ToString(),
               options_.slot, s.ok() ? "" : " (not sent: " + s.message() + ")");
  stream_.reset();
}

}  // namespace sluice::pg
