#include "connectors/postgres/postgres_source.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "connectors/postgres/conninfo.h"
#include "connectors/postgres/slot.h"
#include "core/state_store.h"
#include "util/backoff.h"

namespace sluice::pg {

using std::chrono::milliseconds;

namespace {

constexpr const char* kStateFile = "postgres.json";
// pgoutput protocol version for a server: 2 from PostgreSQL 14 (which sluice asks for
// without `streaming`, so the messages are those of version 1: whole transactions after
// their commit), else 1.
int ProtoVersionFor(int server_version) { return server_version >= 140000 ? 2 : 1; }

// "sluice_" + the parts, lower-cased, anything but letters and digits as '_', at most 63
// bytes (PostgreSQL's identifier limit).
std::string DefaultName(const std::string& a, const std::string& b = "") {
  std::string out = "sluice_";
  for (char c : b.empty() ? a : a + "_" + b) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c))
                      ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                      : '_');
  }
  return out.substr(0, 63);
}

// Sleeps up to `d` in short steps, beating `status` (waiting is not being stuck); false if
// `stop` was set meanwhile.
bool SleepUnlessStopped(milliseconds d, const std::atomic<bool>& stop, SourceStatus& status) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stop && std::chrono::steady_clock::now() < until) {
    status.Beat();
    std::this_thread::sleep_for(milliseconds(50));
  }
  return !stop;
}

}  // namespace

PostgresSource::PostgresSource(SourceContext ctx, PostgresOptions options)
    : ctx_(std::move(ctx)),
      options_(std::move(options)),
      lag_bytes_(ctx_.metrics.GetGauge("sluice_source_lag_bytes",
                                       "Server WAL end minus the confirmed position, in bytes")),
      confirmed_lsn_(ctx_.metrics.GetGauge("sluice_source_confirmed_lsn",
                                           "Position confirmed to the source, as a number")),
      reconnects_(ctx_.metrics.GetCounter("sluice_source_reconnects_total",
                                          "Connections to the source lost and retried")),
      paused_(ctx_.metrics.GetCounter(
          "sluice_source_paused_total",
          "Replication connections closed because the sinks took nothing for blocked_timeout")),
      schema_changes_(ctx_.metrics.GetCounter(
          "sluice_source_schema_changes_total",
          "Tables whose columns, types, key or replica identity changed while streaming")) {
  if (options_.publication.empty()) {
    options_.publication = DefaultName(ctx_.pipeline);
    options_.managed_publication = true;
  } else {
    options_.managed_publication = false;
  }
}

PostgresSource::~PostgresSource() = default;

Status PostgresSource::RecordState(const std::function<void(SourceState&)>& change) {
  std::lock_guard lock(state_mu_);
  SourceState next = state_;
  change(next);
  next.slot = options_.slot;
  Status s = ctx_.state->Save(kStateFile, SerializeState(next));
  if (!s.ok()) {
    if (!state_failing_.exchange(true)) {
      spdlog::error(
          "pipeline {}: cannot record its progress, so nothing past what is recorded is "
          "confirmed to PostgreSQL until it can (the slot keeps the WAL): {}",
          ctx_.pipeline, s.message());
    }
    return s;
  }
  if (state_failing_.exchange(false)) {
    spdlog::info("pipeline {}: its progress is recorded again in {}", ctx_.pipeline,
                 ctx_.state->dir());
  }
  state_ = std::move(next);
  return Status::Ok();
}

namespace {
Result<SourceState> LoadState(StateStore* store, const std::string& slot) {
  auto text = store->Load(kStateFile);
  if (!text.ok()) return text.status();
  if (!text->has_value()) return SourceState{};
  auto st = ParseState(**text, store->PathOf(kStateFile));
  if (!st.ok()) return st.status();
  if (st->slot != slot) {
    return Status::InvalidArgument("state file " + store->PathOf(kStateFile) +
                                   " belongs to slot '" + st->slot + "', not '" + slot +
                                   "': remove it to start this pipeline over");
  }
  return st;
}
}  // namespace

Status PostgresSource::Check() {
  auto meta = PgConn::Connect(options_.dsn, false);
  if (!meta.ok()) return meta.status();
  SLUICE_RETURN_IF_ERROR(CheckServer(*meta));
  auto tables = ResolveTables(*meta, ctx_.tables);
  if (!tables.ok()) return tables.status();
  SLUICE_RETURN_IF_ERROR(
      CheckPublication(*meta, options_.publication, options_.managed_publication, *tables));
  auto repl = PgConn::Connect(options_.dsn, true);
  if (!repl.ok()) return repl.status();
  SLUICE_RETURN_IF_ERROR(ResolveSlotName(*meta));
  auto slot = LookupSlot(*meta, options_.slot);
  if (!slot.ok()) return slot.status();
  if (slot->exists && slot->database != database_) {
    return Status::InvalidArgument("replication slot " + options_.slot + " belongs to database " +
                                   slot->database + ", not " + database_);
  }
  if (slot->exists && slot->wal_status == "lost") {
    return Status::DataLoss("replication slot " + options_.slot +
                            " is invalidated (wal_status lost)");
  }
  if (slot->exists && slot->plugin != "pgoutput") {
    return Status::InvalidArgument(WrongPlugin(options_.slot, slot->plugin));
  }
  if (!slot->exists) {
    auto room = SlotAvailable(*meta);
    if (!room.ok()) return room.status();
    if (!*room) return Status::InvalidArgument(SlotsExhausted(options_.slot));
  }
  return Status::Ok();
}

Status PostgresSource::ResolveSlotName(PgConn& conn) {
  if (!database_.empty()) return Status::Ok();
  auto r = conn.Exec("SELECT current_database()");
  if (!r.ok()) return r.status();
  database_ = GetText(r->get(), 0, 0);
  // Slots are cluster-wide: the default names the database too, so the same pipeline
  // name in two databases of one server does not collide.
  if (options_.slot.empty()) options_.slot = DefaultName(database_, ctx_.pipeline);
  return Status::Ok();
}

Status PostgresSource::LoadStateOnce() {
  if (state_loaded_) return Status::Ok();
  auto loaded = LoadState(ctx_.state, options_.slot);
  if (!loaded.ok()) return loaded.status();
  std::lock_guard lock(state_mu_);
  state_ = std::move(loaded).value();
  state_loaded_ = true;
  return Status::Ok();
}

Status PostgresSource::Run(BatchEmitter& out, const std::atomic<bool>& stop) {
  Backoff backoff(milliseconds(500), milliseconds(30000));
  while (!stop) {
    Status s = RunOnce(out, stop);
    pending_conns_.Close();  // whatever the snapshot did not take
    if (stop || s.code() == StatusCode::kCancelled) break;
    if (s.ok() && std::exchange(replay_, false)) {
      // The next run replays from the held position, once this walsender let the slot go.
      if (stream_) replaced_walsender_ = std::to_string(PQbackendPID(stream_->conn().get()));
      stream_.reset();
      continue;
    }
    if (s.code() != StatusCode::kUnavailable) {
      ctx_.status->Set(SourcePhase::kStopped, s.ToString());
      return s;
    }
    stream_.reset();
    reconnects_.Add();
    if (ctx_.status->phase() == SourcePhase::kStreaming) backoff.Reset();  // a fresh outage
    ctx_.status->Set(SourcePhase::kReconnecting, s.message());
    auto delay = backoff.Next();
    if (state_failing_) {
      spdlog::warn("pipeline {}: cannot record its progress, retrying in {} ms: {}", ctx_.pipeline,
                   delay.count(), s.message());
    } else {
      spdlog::warn("pipeline {}: PostgreSQL unavailable, reconnecting in {} ms: {}", ctx_.pipeline,
                   delay.count(), s.message());
    }
    if (!SleepUnlessStopped(delay, stop, *ctx_.status)) break;
  }
  ctx_.status->Set(SourcePhase::kStopped, "stopped");
  return Status::Cancelled("stopped");
}

Status PostgresSource::Prepare(PgConn& meta) {
  SLUICE_RETURN_IF_ERROR(CheckServer(meta));
  auto tables = ResolveTables(meta, ctx_.tables);
  if (!tables.ok()) return tables.status();
  tables_ = std::move(tables).value();
  auto types = LoadTypeOverrides(meta);
  if (!types.ok()) return types.status();
  types_ = std::move(types).value();
  SLUICE_RETURN_IF_ERROR(
      EnsurePublication(meta, options_.publication, options_.managed_publication, tables_));
  SLUICE_RETURN_IF_ERROR(ResolveSlotName(meta));
  return LoadStateOnce();
}

Status PostgresSource::RunOnce(BatchEmitter& out, const std::atomic<bool>& stop) {
  auto meta = PgConn::Connect(options_.dsn, false);
  if (!meta.ok()) return meta.status();
  SLUICE_RETURN_IF_ERROR(Prepare(*meta));
  // Tables to snapshot: their readers connect while the slot is looked up or created.
  if (auto todo = TablesToSnapshot(); !todo.empty()) {
    pending_conns_.Open(options_.dsn, ReadersFor(todo));
  }
  auto repl = PgConn::Connect(options_.dsn, true);
  if (!repl.ok()) return repl.status();
  auto slot = TakeSlot(*meta, *repl);
  if (!slot.ok()) return slot.status();
  gate_.StartAt(slot->tag);
  // Tables added to a pipeline whose other tables stream: those keep streaming while the
  // added ones are read (docs/architecture.md, "A table added later").
  if (!slot->created && TablesToSnapshot().size() < tables_.size()) {
    return StreamBesideSnapshot(*meta, std::move(repl).value(), slot->tag, out, stop);
  }
  // A first snapshot (or one cut short before any table was done) is read before the stream.
  SLUICE_RETURN_IF_ERROR(Snapshot(*meta, slot->snapshot_name, slot->tag, out, stop));
  SLUICE_RETURN_IF_ERROR(StartStream(*meta, std::move(repl).value(), false));
  return Stream(*meta, out, stop);
}

Status PostgresSource::StreamBesideSnapshot(PgConn& meta, PgConn repl, Lsn tag, BatchEmitter& out,
                                            const std::atomic<bool>& stop) {
  auto run = StartSnapshot(meta, "", tag, out.change_pool());
  if (!run.ok()) return run.status();
  std::unique_ptr<SnapshotRun> beside = std::move(run).value();
  if (beside && beside->workers->jobs().empty()) beside.reset();
  if (beside) {
    gate_.Hold(tag);
    ctx_.durability->HoldCheckpoints();  // the batches from here lack the tables held back
  }
  SLUICE_RETURN_IF_ERROR(StartStream(meta, std::move(repl), beside != nullptr));
  Status s = Stream(meta, out, stop, beside.get());
  if (s.ok()) {
    spdlog::info(
        "pipeline {}: snapshot of the added tables handed on; replaying the stream from {}",
        ctx_.pipeline, tag.ToString());
  }
  return s;
}

Status PostgresSource::StartStream(PgConn& meta, PgConn repl, bool held_back) {
  stream_ = std::make_unique<ReplicationStream>(std::move(repl));
  proto_version_ = ProtoVersionFor(meta.server_version());
  SLUICE_RETURN_IF_ERROR(
      stream_->Start(options_.slot, options_.publication, Lsn(), proto_version_));
  spdlog::info("pipeline {}: streaming from slot {} (confirmed {}, pgoutput protocol {}){}",
               ctx_.pipeline, options_.slot, gate_.confirmed().ToString(), proto_version_,
               held_back ? ", the changes of the tables being read held back" : "");
  return Status::Ok();
}

Result<PostgresSource::SlotStart> PostgresSource::TakeSlot(PgConn& meta, PgConn& repl) {
  // A walsender this process closed may hold the slot a moment longer.
  auto slot = LookupSlotReleasedBy(meta, options_.slot, replaced_walsender_);
  replaced_walsender_.clear();
  if (!slot.ok()) return slot.status();
  SLUICE_RETURN_IF_ERROR(CheckSlot(*slot));
  SlotStart start;
  if (slot->exists) {
    start.tag = slot->confirmed_flush;
  } else {
    auto created = CreateSlot(repl, options_.slot);
    if (!created.ok()) return created.status();
    start.tag = created->consistent_point;
    // Valid until `repl` runs its next command: the snapshot readers import it first.
    start.snapshot_name = created->snapshot_name;
    start.created = true;
    spdlog::info("pipeline {}: created replication slot {} at {}", ctx_.pipeline, options_.slot,
                 start.tag.ToString());
  }
  bool record = start.created;
  {
    std::lock_guard lock(state_mu_);
    record = record || !state_.slot_created;
  }
  if (record) {
    SLUICE_RETURN_IF_ERROR(RecordState([&](SourceState& st) {
      st.slot_created = true;
      st.snapshot_lsn = start.tag.ToString();
      if (start.created) st.snapshot = SnapshotRecord{};
    }));
  }
  return start;
}

Status PostgresSource::CheckSlot(const SlotInfo& slot) {
  if (slot.exists && slot.database != database_) {
    return Status::InvalidArgument("replication slot " + options_.slot + " belongs to database " +
                                   slot.database + ", not " + database_ +
                                   ": name another slot with the source's `slot` option");
  }
  bool created_before;
  {
    std::lock_guard lock(state_mu_);
    created_before = state_.slot_created;
  }
  if (!slot.exists && created_before) {
    return Status::DataLoss(
        "replication slot " + options_.slot + " no longer exists, so the changes made since " +
        "sluice last confirmed are lost to pipeline " + ctx_.pipeline +
        ". It is never recreated silently: to start over with a fresh snapshot, delete " +
        ctx_.state->PathOf(kStateFile) + " and restart");
  }
  if (!slot.exists) return Status::Ok();
  if (slot.wal_status == "lost") {
    return Status::DataLoss("replication slot " + options_.slot +
                            " was invalidated (wal_status = lost, the WAL it needed was "
                            "removed, see max_slot_wal_keep_size). Changes are lost: delete " +
                            ctx_.state->PathOf(kStateFile) + " and the slot to start over");
  }
  if (!slot.active_pid.empty()) {
    return Status::Unavailable("replication slot " + options_.slot +
                               " is in use by another process (pid " + slot.active_pid +
                               "): is another sluice running pipeline " + ctx_.pipeline + "?");
  }
  if (slot.plugin != "pgoutput") {
    return Status::InvalidArgument(WrongPlugin(options_.slot, slot.plugin));
  }
  return Status::Ok();
}

Status PostgresSource::Reopen(PgConn& meta) {
  auto repl = PgConn::Connect(options_.dsn, true);
  if (!repl.ok()) return repl.status();
  auto slot = LookupSlotReleasedBy(meta, options_.slot, replaced_walsender_);
  replaced_walsender_.clear();
  if (!slot.ok()) return slot.status();
  // A slot lost meanwhile (invalidated while the connection was closed) is RunOnce's to report.
  if (!slot->exists || slot->wal_status == "lost") {
    return Status::Unavailable("replication slot " + options_.slot + " changed while closed");
  }
  auto stream = std::make_unique<ReplicationStream>(std::move(repl).value());
  // Transactions whose commit lies before `from` are not sent again: they are in the pipeline.
  Lsn from = gate_.last_emitted_commit();
  SLUICE_RETURN_IF_ERROR(stream->Start(options_.slot, options_.publication, from, proto_version_));
  stream_ = std::move(stream);
  last_status_ = std::chrono::steady_clock::now();
  spdlog::info("pipeline {}: the sinks take changes again; streaming from slot {} again, after {}",
               ctx_.pipeline, options_.slot, from.valid() ? from.ToString() : "its position");
  return Status::Ok();
}

}  // namespace sluice::pg

namespace sluice::pg {

namespace {

// pg_current_wal_insert_lsn() right after a commit that ends at a WAL page boundary points
// past the next page's header: 24 bytes, 40 at the start of a segment. No commit can end
// within 24 bytes of a record's end, nor within 40 of a 16 MB boundary (a page's start under
// any page and segment size): the smallest WAL record is its 24-byte header, a commit record
// is larger, and a page begins with its header.
Lsn WaitReach(Lsn durable) {
  constexpr uint64_t kSegmentAlign = 16u << 20;
  return Lsn(durable.value() + (durable.value() % kSegmentAlign == 0 ? 40 : 24));
}

}  // namespace

void RegisterPostgresSource(Registry& registry) {
  SourcePlugin p;
  p.type = "postgres";
  p.description = "PostgreSQL: consistent snapshot, then logical replication (pgoutput)";
  p.commit_positions = true;  // checkpoints carry commit end LSNs, in commit order
  p.wait_reach = WaitReach;
  p.options = {
      {"dsn",
       OptionType::kSecret,
       "",
       true,
       "libpq connection string or URI; the role needs REPLICATION and SELECT on the tables",
       {},
       ConninfoSecrets},  // its password as libpq reads it: hidden in every message
      {"slot",
       OptionType::kString,
       "",
       false,
       "Logical replication slot (default sluice_<database>_<pipeline>); created if missing. "
       "{pipeline} in it stands for the pipeline's name; two pipelines may not share one",
       {},
       nullptr,
       true},
      {"publication", OptionType::kString, "", false,
       "Existing publication to use; when unset sluice manages sluice_<pipeline>"},
      {"status_interval", OptionType::kDuration, "10s", false,
       "How often to send standby status updates (must be under wal_sender_timeout)"},
      {"toast",
       OptionType::kEnum,
       "mark",
       false,
       "An unchanged TOASTed value in an update: `mark` it unchanged (sinks keep what they "
       "have), or `lookup` the current value by key for sinks that need whole rows",
       {"mark", "lookup"}},
      {"snapshot_parallelism", OptionType::kInt, "2", false,
       "Connections reading snapshot key ranges at once, all in one exported snapshot"},
      {"blocked_timeout", OptionType::kDuration, "10s", false,
       "While the sinks take nothing, how long the stream keeps reading ahead before it closes "
       "the replication connection, so the server's walsender is never left blocked on it; "
       "it reopens once they take changes"},
      {"on_schema_change",
       OptionType::kEnum,
       "follow",
       false,
       "A table's columns change while streaming (ALTER TABLE): `follow` passes its changes "
       "on with the new columns and logs the change; `stop` stops the pipeline before the "
       "first change made after it",
       {"follow", "stop"}},
      {"snapshot_chunk_rows", OptionType::kInt, "100000", false,
       "Rows per snapshot key range: the unit recorded as done, so a restart re-reads at "
       "most this many rows per reader"},
  };
  p.create = [](const SourceContext& ctx) -> Result<std::unique_ptr<Source>> {
    PostgresOptions o;
    o.dsn = ctx.options.String("dsn");
    o.slot = ctx.options.String("slot");
    o.publication = ctx.options.String("publication");
    o.status_interval = ctx.options.Duration("status_interval");
    o.toast_lookup = ctx.options.String("toast") == "lookup";
    o.snapshot_parallelism = static_cast<int>(ctx.options.Int("snapshot_parallelism"));
    o.snapshot_chunk_rows = ctx.options.Int("snapshot_chunk_rows");
    o.blocked_timeout = ctx.options.Duration("blocked_timeout");
    o.follow_schema_changes = ctx.options.String("on_schema_change") == "follow";
    if (o.blocked_timeout.count() < 100) {
      return Status::InvalidArgument("blocked_timeout must be at least 100ms");
    }
    if (o.snapshot_parallelism < 1 || o.snapshot_parallelism > 64) {
      return Status::InvalidArgument("snapshot_parallelism must be between 1 and 64");
    }
    if (o.snapshot_chunk_rows < 1) {
      return Status::InvalidArgument("snapshot_chunk_rows must be at least 1");
    }
    return std::unique_ptr<Source>(std::make_unique<PostgresSource>(ctx, std::move(o)));
  };
  registry.AddSource(std::move(p));
}

}  // namespace sluice::pg
