#include "connectors/postgres/postgres_source.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "connectors/postgres/conninfo.h"
#include "core/backoff.h"
#include "core/state_store.h"

namespace sluice::pg {

using std::chrono::milliseconds;

namespace {

constexpr const char* kStateFile = "postgres.json";
// How long a walsender of this process, closed for a replay, may take to let its slot go.
constexpr auto kWalsenderExit = std::chrono::seconds(5);
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

struct SlotInfo {
  bool exists = false;
  Lsn confirmed_flush;
  std::string wal_status;
  std::string active_pid;
  std::string database;
  std::string plugin;
};

Result<SlotInfo> LookupSlot(PgConn& conn, const std::string& slot) {
  auto r = conn.Exec(
      "SELECT confirmed_flush_lsn, wal_status, active_pid, database, plugin "
      "FROM pg_replication_slots WHERE slot_name = $1",
      {slot});
  if (!r.ok()) return r.status();
  SlotInfo info;
  if (PQntuples(r->get()) == 0) return info;
  info.exists = true;
  info.confirmed_flush = Lsn::Parse(GetText(r->get(), 0, 0)).value_or(Lsn());
  info.wal_status = GetText(r->get(), 0, 1);
  info.active_pid = GetText(r->get(), 0, 2);
  info.database = GetText(r->get(), 0, 3);
  info.plugin = GetText(r->get(), 0, 4);
  return info;
}

std::string SlotsExhausted(const std::string& slot) {
  return "cannot create replication slot " + slot +
         ": all replication slots are in use (raise max_replication_slots, or drop unused "
         "slots)";
}

std::string WrongPlugin(const std::string& slot, const std::string& plugin) {
  return "replication slot " + slot + " uses plugin " + plugin + ", sluice needs pgoutput";
}

// Whether the server has room for one more replication slot.
Result<bool> SlotAvailable(PgConn& conn) {
  auto r = conn.Exec(
      "SELECT count(*) < current_setting('max_replication_slots')::int FROM pg_replication_slots");
  if (!r.ok()) return r.status();
  return GetText(r->get(), 0, 0) == "t";
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
                                          "Connections to the source lost and retried")) {
  if (options_.publication.empty()) {
    options_.publication = DefaultName(ctx_.pipeline);
    options_.managed_publication = true;
  } else {
    options_.managed_publication = false;
  }
}

PostgresSource::~PostgresSource() = default;

Status PostgresSource::SaveState() {
  state_.slot = options_.slot;
  return ctx_.state->Save(kStateFile, SerializeState(state_));
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
      replaced_walsender_ = std::to_string(PQbackendPID(stream_->conn().get()));
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
    spdlog::warn("pipeline {}: PostgreSQL unavailable, reconnecting in {} ms: {}", ctx_.pipeline,
                 delay.count(), s.message());
    if (!SleepUnlessStopped(delay, stop, *ctx_.status)) break;
  }
  ctx_.status->Set(SourcePhase::kStopped, "stopped");
  return Status::Cancelled("stopped");
}

Status PostgresSource::RunOnce(BatchEmitter& out, const std::atomic<bool>& stop) {
  auto meta = PgConn::Connect(options_.dsn, false);
  if (!meta.ok()) return meta.status();
  SLUICE_RETURN_IF_ERROR(CheckServer(*meta));
  auto tables = ResolveTables(*meta, ctx_.tables);
  if (!tables.ok()) return tables.status();
  tables_ = std::move(tables).value();
  auto types = LoadTypeOverrides(*meta);
  if (!types.ok()) return types.status();
  types_ = std::move(types).value();
  SLUICE_RETURN_IF_ERROR(
      EnsurePublication(*meta, options_.publication, options_.managed_publication, tables_));
  SLUICE_RETURN_IF_ERROR(ResolveSlotName(*meta));
  SLUICE_RETURN_IF_ERROR(LoadStateOnce());
  // Tables to snapshot: their readers connect while the slot is looked up or created.
  if (auto todo = TablesToSnapshot(); !todo.empty()) {
    pending_conns_.Open(options_.dsn, ReadersFor(todo));
  }
  auto repl = PgConn::Connect(options_.dsn, true);
  if (!repl.ok()) return repl.status();
  auto slot = LookupSlot(*meta, options_.slot);
  // A walsender this process closed may hold the slot a moment longer.
  for (auto until = std::chrono::steady_clock::now() + kWalsenderExit;
       slot.ok() && !slot->active_pid.empty() && slot->active_pid == replaced_walsender_ &&
       std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(milliseconds(10));
    slot = LookupSlot(*meta, options_.slot);
  }
  replaced_walsender_.clear();
  if (!slot.ok()) return slot.status();
  if (slot->exists && slot->database != database_) {
    return Status::InvalidArgument("replication slot " + options_.slot + " belongs to database " +
                                   slot->database + ", not " + database_ +
                                   ": name another slot with the source's `slot` option");
  }

  std::string snapshot_name;  // exported by `repl` at the slot's consistent point
  Lsn tag;
  bool created = false;
  {
    std::lock_guard lock(state_mu_);
    if (!slot->exists && state_.slot_created) {
      return Status::DataLoss(
          "replication slot " + options_.slot + " no longer exists, so the changes made since " +
          "sluice last confirmed are lost to pipeline " + ctx_.pipeline +
          ". It is never recreated silently: to start over with a fresh snapshot, delete " +
          ctx_.state->PathOf(kStateFile) + " and restart");
    }
  }
  if (slot->exists) {
    if (slot->wal_status == "lost") {
      return Status::DataLoss("replication slot " + options_.slot +
                              " was invalidated (wal_status = lost, the WAL it needed was "
                              "removed, see max_slot_wal_keep_size). Changes are lost: delete " +
                              ctx_.state->PathOf(kStateFile) + " and the slot to start over");
    }
    if (!slot->active_pid.empty()) {
      return Status::Unavailable("replication slot " + options_.slot +
                                 " is in use by another process (pid " + slot->active_pid +
                                 "): is another sluice running pipeline " + ctx_.pipeline + "?");
    }
    if (slot->plugin != "pgoutput") {
      return Status::InvalidArgument(WrongPlugin(options_.slot, slot->plugin));
    }
    tag = slot->confirmed_flush;
  } else {
    std::string sql = "CREATE_REPLICATION_SLOT " + repl->Ident(options_.slot) +
                      " LOGICAL pgoutput EXPORT_SNAPSHOT";
    auto r = repl->Exec(sql);
    if (!r.ok()) {
      if (r.status().message().find("all replication slots are in use") != std::string::npos) {
        return Status::InvalidArgument(SlotsExhausted(options_.slot));
      }
      return r.status();
    }
    tag = Lsn::Parse(GetText(r->get(), 0, 1)).value_or(Lsn());
    // Valid until `repl` runs its next command: the snapshot readers import it first.
    snapshot_name = GetText(r->get(), 0, 2);
    created = true;
    spdlog::info("pipeline {}: created replication slot {} at {}", ctx_.pipeline, options_.slot,
                 tag.ToString());
  }
  {
    std::lock_guard lock(state_mu_);
    if (created || !state_.slot_created) {
      state_.slot_created = true;
      state_.snapshot_lsn = tag.ToString();
      if (created) {
        state_.tables_done.clear();
        state_.plans.clear();
      }
      SLUICE_RETURN_IF_ERROR(SaveState());
    }
  }
  {
    std::lock_guard lock(confirm_mu_);
    if (confirmed_.load() < tag.value()) confirmed_ = tag.value();
  }
  // Tables added to a pipeline whose other tables stream: those keep streaming while the
  // added ones are read (docs/architecture.md, "A table added later").
  std::unique_ptr<SnapshotRun> beside;
  if (!created && TablesToSnapshot().size() < tables_.size()) {
    auto run = StartSnapshot(*meta, "", tag, out.change_pool());
    if (!run.ok()) return run.status();
    beside = std::move(run).value();
    if (beside && beside->workers->jobs().empty()) beside.reset();
    if (beside) HoldConfirmation(tag);
  } else {
    SLUICE_RETURN_IF_ERROR(Snapshot(*meta, snapshot_name, tag, out, stop));
  }
  stream_ = std::make_unique<ReplicationStream>(std::move(repl).value());
  int proto = ProtoVersionFor(meta->server_version());
  SLUICE_RETURN_IF_ERROR(stream_->Start(options_.slot, options_.publication, Lsn(), proto));
  spdlog::info("pipeline {}: streaming from slot {} (confirmed {}, pgoutput protocol {}){}",
               ctx_.pipeline, options_.slot, Lsn(confirmed_.load()).ToString(), proto,
               beside ? ", the changes of the tables being read held back" : "");
  Status s = Stream(*meta, out, stop, beside.get());
  if (s.ok()) {
    spdlog::info(
        "pipeline {}: snapshot of the added tables handed on; replaying the stream from {}",
        ctx_.pipeline, tag.ToString());
  }
  return s;
}

}  // namespace sluice::pg

namespace sluice::pg {

void RegisterPostgresSource(Registry& registry) {
  SourcePlugin p;
  p.type = "postgres";
  p.description = "PostgreSQL: consistent snapshot, then logical replication (pgoutput)";
  p.options = {
      {"dsn",
       OptionType::kSecret,
       "",
       true,
       "libpq connection string or URI; the role needs REPLICATION and SELECT on the tables",
       {},
       ConninfoSecrets},  // its password as libpq reads it: hidden in every message
      {"slot", OptionType::kString, "", false,
       "Logical replication slot (default sluice_<pipeline>); created if missing"},
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
