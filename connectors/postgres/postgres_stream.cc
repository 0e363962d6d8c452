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
  auto housekeeping = [&] {
    if (StatusDue()) (void)SendStatus(false);  // a broken connection shows up on the next read
  };
  auto emit = [&]() -> Status {
    if (options_.toast_lookup) SLUICE_RETURN_IF_ERROR(FillUnchanged(meta, types_, &batch));
    if (batch.checkpoint.lsn.valid()) last_emitted_commit_ = batch.checkpoint.lsn;
    size_t last_size = batch.changes.size();
    bool ok = out.Emit(std::move(batch), housekeeping);
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
    if (StatusDue()) SLUICE_RETURN_IF_ERROR(SendStatus(false));
    SLUICE_RETURN_IF_ERROR(PollLag(meta, FlushPosition()));
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
        ReleaseHoldAt(emitted_token_);
        replay_ = true;
        return Status::Ok();
      }
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
      // Nothing in flight and no transaction open: everything up to the server's sent
      // position is accounted for, so the slot may advance past WAL that other tables wrote.
      bool quiet = hold_.load() == 0 && !builder.in_transaction() && !pending &&
                   Lsn(confirmed_.load()) >= last_emitted_commit_ &&
                   confirmed_token_.load() >= emitted_token_;
      if (quiet && m.wal_end > idle_flush_) idle_flush_ = m.wal_end;
      if (m.reply_requested) SLUICE_RETURN_IF_ERROR(SendStatus(false));
      continue;
    }
    auto decoded = DecodePgoutput(m.payload);
    if (!decoded.ok()) return decoded.status();
    auto effect = builder.Apply(*decoded, &batch);
    if (!effect.ok()) return effect.status();
    if (effect->commit) batch.checkpoint = Checkpoint{effect->commit_end, emitted_token_};
    if (batch.changes.size() >= ctx_.batch_max_changes || batch.bytes >= ctx_.batch_max_bytes) {
      SLUICE_RETURN_IF_ERROR(emit());
    }
  }
  return Status::Cancelled("stopping");
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

Lsn PostgresSource::FlushPosition() const {
  Lsn flush = std::max(Lsn(confirmed_.load()), idle_flush_);
  uint64_t hold = hold_.load();
  return hold != 0 ? std::min(flush, Lsn(hold)) : flush;
}

void PostgresSource::HoldConfirmation(Lsn at) {
  std::lock_guard lock(confirm_mu_);
  hold_ = std::max<uint64_t>(at.value(), 1);
  release_token_ = UINT64_MAX;
  // Batches handed on before now lack the tables held back: what they confirm no longer
  // says those tables are durable.
  if (confirmed_.load() > at.value()) confirmed_ = at.value();
  idle_flush_ = std::min(idle_flush_, at);
}

void PostgresSource::ReleaseHoldAt(uint64_t token) {
  std::lock_guard lock(confirm_mu_);
  release_token_ = token;
}

bool PostgresSource::StatusDue() const {
  auto since = std::chrono::steady_clock::now() - last_status_;
  if (since >= options_.status_interval) return true;
  return FlushPosition() > sent_flush_ && since >= kPromptStatus;
}

Status PostgresSource::SendStatus(bool reply_requested) {
  if (!stream_) return Status::Ok();
  Lsn flush = FlushPosition();
  last_status_ = std::chrono::steady_clock::now();
  sent_flush_ = flush;
  confirmed_lsn_.Set(static_cast<double>(flush.value()));
  return stream_->SendStatus(std::max(received_, flush), flush, reply_requested);
}

void PostgresSource::Confirm(const Checkpoint& checkpoint) {
  // Snapshot progress is recorded before the LSN may reach the server: a crash in between
  // then re-reads nothing that is done.
  if (checkpoint.token > confirmed_token_.load()) {
    std::lock_guard lock(state_mu_);
    size_t from = confirmed_token_.load();
    size_t upto = std::min<size_t>(checkpoint.token, snapshot_order_.size());
    for (size_t i = from; i < upto; ++i) {
      const EmittedRange& r = snapshot_order_[i];
      MarkRangeDone(&state_, r.table, r.range, r.rows);
      spdlog::debug("pipeline {}: snapshot of {} range {} durable", ctx_.pipeline, r.table,
                    r.range);
    }
    confirmed_token_ = upto;
    Status s = SaveState();
    if (!s.ok()) {
      spdlog::error("pipeline {}: cannot record snapshot progress: {}", ctx_.pipeline,
                    s.ToString());
    }
  }
  std::lock_guard lock(confirm_mu_);
  uint64_t lsn = checkpoint.lsn.value();
  if (hold_.load() != 0) {
    if (checkpoint.token >= release_token_.load()) {
      hold_ = 0;  // every range is durable, and what follows them carries their tables
    } else {
      lsn = std::min(lsn, hold_.load());
    }
  }
  if (lsn > confirmed_.load()) confirmed_ = lsn;
}

void PostgresSource::Shutdown() {
  if (!stream_) return;
  Status s = SendStatus(false);
  spdlog::info("pipeline {}: confirmed {} to slot {}{}", ctx_.pipeline, FlushPosition().ToString(),
               options_.slot, s.ok() ? "" : " (not sent: " + s.message() + ")");
  stream_.reset();
}

}  // namespace sluice::pg
