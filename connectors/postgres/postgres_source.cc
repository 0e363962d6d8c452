#include "connectors/postgres/postgres_source.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "connectors/postgres/change_builder.h"
#include "connectors/postgres/pgoutput_decoder.h"
#include "connectors/postgres/snapshot_reader.h"
#include "core/backoff.h"
#include "core/state_store.h"

namespace sluice::pg {

using std::chrono::milliseconds;

namespace {

constexpr const char* kStateFile = "postgres.json";
constexpr int kProtoVersion = 1;

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

// Sleeps up to `d` in short steps; false if `stop` was set meanwhile.
bool SleepUnlessStopped(milliseconds d, const std::atomic<bool>& stop) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stop && std::chrono::steady_clock::now() < until) {
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

}  // namespace

PostgresSource::PostgresSource(SourceContext ctx, PostgresOptions options)
    : ctx_(std::move(ctx)), options_(std::move(options)) {
  if (options_.publication.empty()) {
    options_.publication = DefaultName(ctx_.pipeline);
    options_.managed_publication = true;
  } else {
    options_.managed_publication = false;
  }
}

PostgresSource::~PostgresSource() = default;

Status PostgresSource::SaveState() {
  nlohmann::json j;
  j["slot"] = options_.slot;
  j["slot_created"] = state_.slot_created;
  j["snapshot_lsn"] = state_.snapshot_lsn;
  j["tables_done"] = state_.tables_done;
  return ctx_.state->Save(kStateFile, j.dump(2) + "\n");
}

namespace {
Result<SourceState> LoadState(StateStore* store, const std::string& slot) {
  auto text = store->Load(kStateFile);
  if (!text.ok()) return text.status();
  SourceState st;
  if (!text->has_value()) return st;
  try {
    auto j = nlohmann::json::parse(**text);
    if (j.value("slot", "") != slot) {
      return Status::InvalidArgument("state file " + store->PathOf(kStateFile) +
                                     " belongs to slot '" + j.value("slot", "") + "', not '" +
                                     slot + "': remove it to start this pipeline over");
    }
    st.slot_created = j.value("slot_created", false);
    st.snapshot_lsn = j.value("snapshot_lsn", "");
    for (const auto& t : j.value("tables_done", nlohmann::json::array())) {
      st.tables_done.insert(t.get<std::string>());
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::DataLoss("state file " + store->PathOf(kStateFile) + " is corrupt: " + e.what());
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
    if (stop || s.code() == StatusCode::kCancelled) return Status::Cancelled("stopped");
    if (s.code() != StatusCode::kUnavailable) return s;
    stream_.reset();
    auto delay = backoff.Next();
    spdlog::warn("pipeline {}: PostgreSQL unavailable, reconnecting in {} ms: {}", ctx_.pipeline,
                 delay.count(), s.message());
    if (!SleepUnlessStopped(delay, stop)) break;
  }
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
  auto repl = PgConn::Connect(options_.dsn, true);
  if (!repl.ok()) return repl.status();
  SLUICE_RETURN_IF_ERROR(ResolveSlotName(*meta));
  SLUICE_RETURN_IF_ERROR(LoadStateOnce());
  auto slot = LookupSlot(*meta, options_.slot);
  if (!slot.ok()) return slot.status();
  if (slot->exists && slot->database != database_) {
    return Status::InvalidArgument("replication slot " + options_.slot + " belongs to database " +
                                   slot->database + ", not " + database_ +
                                   ": name another slot with the source's `slot` option");
  }

  std::optional<PgConn> snap;
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
      return Status::InvalidArgument("replication slot " + options_.slot + " uses plugin " +
                                     slot->plugin + ", sluice needs pgoutput");
    }
    tag = slot->confirmed_flush;
  } else {
    std::string sql = "CREATE_REPLICATION_SLOT " + repl->Ident(options_.slot) +
                      " LOGICAL pgoutput EXPORT_SNAPSHOT";
    auto r = repl->Exec(sql);
    if (!r.ok()) {
      if (r.status().message().find("all replication slots are in use") != std::string::npos) {
        return Status::InvalidArgument("cannot create replication slot " + options_.slot +
                                       ": all replication slots are in use (raise "
                                       "max_replication_slots, or drop unused slots)");
      }
      return r.status();
    }
    tag = Lsn::Parse(GetText(r->get(), 0, 1)).value_or(Lsn());
    std::string snapshot_name = GetText(r->get(), 0, 2);
    auto s = PgConn::Connect(options_.dsn, false);
    if (!s.ok()) return s.status();
    snap.emplace(std::move(s).value());
    auto begin = snap->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!begin.ok()) return begin.status();
    auto imp = snap->Exec("SET TRANSACTION SNAPSHOT " + snap->Literal(snapshot_name));
    if (!imp.ok()) return imp.status();
    created = true;
    spdlog::info("pipeline {}: created replication slot {} at {}", ctx_.pipeline, options_.slot,
                 tag.ToString());
  }
  {
    std::lock_guard lock(state_mu_);
    if (created || !state_.slot_created) {
      state_.slot_created = true;
      state_.snapshot_lsn = tag.ToString();
      if (created) state_.tables_done.clear();
      SLUICE_RETURN_IF_ERROR(SaveState());
    }
  }
  uint64_t start = confirmed_.load();
  while (start < tag.value() && !confirmed_.compare_exchange_weak(start, tag.value())) {
  }
  SLUICE_RETURN_IF_ERROR(Snapshot(snap ? *snap : *meta, tag, out, stop, !snap.has_value()));
  snap.reset();
  stream_ = std::make_unique<ReplicationStream>(std::move(repl).value());
  SLUICE_RETURN_IF_ERROR(stream_->Start(options_.slot, options_.publication, Lsn(), kProtoVersion));
  spdlog::info("pipeline {}: streaming from slot {} (confirmed {})", ctx_.pipeline, options_.slot,
               Lsn(confirmed_.load()).ToString());
  return Stream(out, stop);
}

}  // namespace sluice::pg

namespace sluice::pg {

Status PostgresSource::Snapshot(PgConn& conn, Lsn tag, BatchEmitter& out,
                                const std::atomic<bool>& stop, bool fresh) {
  std::vector<const TableInfo*> todo;
  {
    std::lock_guard lock(state_mu_);
    for (const auto& t : tables_) {
      if (!state_.tables_done.count(t.Qualified())) todo.push_back(&t);
    }
  }
  if (todo.empty()) return Status::Ok();
  if (fresh) {
    // Rows read now are newer than `tag`, the slot's confirmed position; the stream replays
    // everything after `tag`, so each row still ends at its latest state (see
    // docs/architecture.md, "Finishing a snapshot after a crash").
    auto begin = conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!begin.ok()) return begin.status();
  }
  SnapshotLimits limits{ctx_.batch_max_changes, ctx_.batch_max_bytes};
  auto emit = [&](Batch&& b) { return !stop && out.Emit(std::move(b), nullptr); };
  for (const TableInfo* t : todo) {
    uint64_t token;
    {
      std::lock_guard lock(state_mu_);
      snapshot_order_.push_back(t->Qualified());
      token = snapshot_order_.size();
    }
    emitted_token_ = token;
    spdlog::info("pipeline {}: snapshot of {} started (about {} rows) at {}", ctx_.pipeline,
                 t->Qualified(), t->estimated_rows, tag.ToString());
    int64_t rows = 0;
    SLUICE_RETURN_IF_ERROR(CopyTable(conn, *t, types_, ctx_.source, tag, Checkpoint{Lsn(), token},
                                     limits, emit, &rows));
    spdlog::info("pipeline {}: snapshot of {} read, {} rows", ctx_.pipeline, t->Qualified(), rows);
  }
  auto commit = conn.Exec("COMMIT");
  return commit.ok() ? Status::Ok() : commit.status();
}

Status PostgresSource::Stream(BatchEmitter& out, const std::atomic<bool>& stop) {
  KeyColumns keys;
  for (const auto& t : tables_) keys[{t.schema, t.name}] = t.key_columns;
  ChangeBuilder builder(ctx_.source, std::move(keys), types_);
  Batch batch;
  auto housekeeping = [&] {
    if (std::chrono::steady_clock::now() - last_status_ >= options_.status_interval) {
      (void)SendStatus(false);  // a broken connection shows up on the next read
    }
  };
  auto emit = [&] {
    if (batch.checkpoint.lsn.valid()) last_emitted_commit_ = batch.checkpoint.lsn;
    bool ok = out.Emit(std::move(batch), housekeeping);
    batch = Batch{};
    return ok;
  };
  last_status_ = std::chrono::steady_clock::now();
  while (!stop) {
    if (std::chrono::steady_clock::now() - last_status_ >= options_.status_interval) {
      SLUICE_RETURN_IF_ERROR(SendStatus(false));
    }
    bool pending = !batch.changes.empty() || !batch.checkpoint.empty();
    auto next = stream_->Next(pending ? milliseconds(0) : milliseconds(100));
    if (!next.ok()) return next.status();
    if (!next->has_value()) {
      if (pending && !emit()) return Status::Cancelled("stopping");
      continue;
    }
    const StreamMessage& m = **next;
    if (m.wal_end > received_) received_ = m.wal_end;
    if (m.type == 'k') {
      // Nothing in flight and no transaction open: everything up to the server's sent
      // position is accounted for, so the slot may advance past WAL that other tables wrote.
      bool quiet = !builder.in_transaction() && !pending &&
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
      if (!emit()) return Status::Cancelled("stopping");
    }
  }
  return Status::Cancelled("stopping");
}

Status PostgresSource::SendStatus(bool reply_requested) {
  if (!stream_) return Status::Ok();
  Lsn flush = std::max(Lsn(confirmed_.load()), idle_flush_);
  last_status_ = std::chrono::steady_clock::now();
  return stream_->SendStatus(std::max(received_, flush), flush, reply_requested);
}

void PostgresSource::Confirm(const Checkpoint& checkpoint) {
  uint64_t lsn = checkpoint.lsn.value();
  uint64_t cur = confirmed_.load();
  while (lsn > cur && !confirmed_.compare_exchange_weak(cur, lsn)) {
  }
  if (checkpoint.token <= confirmed_token_.load()) return;
  std::lock_guard lock(state_mu_);
  size_t upto = std::min<size_t>(checkpoint.token, snapshot_order_.size());
  for (size_t i = 0; i < upto; ++i) state_.tables_done.insert(snapshot_order_[i]);
  confirmed_token_ = checkpoint.token;
  Status s = SaveState();
  if (!s.ok()) {
    spdlog::error("pipeline {}: cannot record snapshot progress: {}", ctx_.pipeline, s.ToString());
  }
  for (size_t i = 0; i < upto; ++i) {
    spdlog::debug("pipeline {}: snapshot of {} durable", ctx_.pipeline, snapshot_order_[i]);
  }
}

void PostgresSource::Shutdown() {
  if (!stream_) return;
  Status s = SendStatus(false);
  spdlog::info("pipeline {}: confirmed {} to slot {}{}", ctx_.pipeline,
               std::max(Lsn(confirmed_.load()), idle_flush_).ToString(), options_.slot,
               s.ok() ? "" : " (not sent: " + s.message() + ")");
  stream_.reset();
}

void RegisterPostgresSource(Registry& registry) {
  SourcePlugin p;
  p.type = "postgres";
  p.description = "PostgreSQL: consistent snapshot, then logical replication (pgoutput)";
  p.options = {
      {"dsn", OptionType::kSecret, "", true,
       "libpq connection string or URI; the role needs REPLICATION and SELECT on the tables"},
      {"slot", OptionType::kString, "", false,
       "Logical replication slot (default sluice_<pipeline>); created if missing"},
      {"publication", OptionType::kString, "", false,
       "Existing publication to use; when unset sluice manages sluice_<pipeline>"},
      {"status_interval", OptionType::kDuration, "10s", false,
       "How often to send standby status updates (must be under wal_sender_timeout)"},
  };
  p.create = [](const SourceContext& ctx) -> Result<std::unique_ptr<Source>> {
    PostgresOptions o;
    o.dsn = ctx.options.String("dsn");
    o.slot = ctx.options.String("slot");
    o.publication = ctx.options.String("publication");
    o.status_interval = ctx.options.Duration("status_interval");
    return std::unique_ptr<Source>(std::make_unique<PostgresSource>(ctx, std::move(o)));
  };
  registry.AddSource(std::move(p));
}

}  // namespace sluice::pg
