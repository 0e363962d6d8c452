#include "connectors/mariadb/mariadb_source.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "core/state_store.h"
#include "util/backoff.h"

namespace sluice::mariadb {

namespace {

bool Fatal(const Status& s) {
  return s.code() == StatusCode::kDataLoss || s.code() == StatusCode::kInvalidArgument ||
         s.code() == StatusCode::kFailedPrecondition || s.code() == StatusCode::kNotFound;
}
}  // namespace

MariaDbSource::MariaDbSource(SourceContext ctx, MariaDbOptions options)
    : ctx_(std::move(ctx)),
      options_(std::move(options)),
      reconnects_(ctx_.metrics.GetCounter("sluice_source_reconnects_total",
                                          "Times the source lost its server and reconnected")) {}

Status MariaDbSource::Check() {
  auto conn = MyConn::Connect(options_.dsn);
  if (!conn.ok()) return conn.status();
  auto rows = conn.value().Query(
      "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata");
  if (!rows.ok()) return rows.status();
  const TextRow& v = rows.value().at(0);
  auto is = [&](size_t i, const char* want) { return v[i] && *v[i] == want; };
  if (!is(0, "1")) return Status::FailedPrecondition("the binary log is off: set log_bin");
  if (!is(1, "ROW")) {
    return Status::FailedPrecondition("binlog_format is " + v[1].value_or("?") +
                                      ": set binlog_format=ROW");
  }
  if (!is(2, "FULL")) {
    return Status::FailedPrecondition("binlog_row_image is " + v[2].value_or("?") +
                                      ": set binlog_row_image=FULL");
  }
  if (!is(3, "FULL")) {
    return Status::FailedPrecondition("binlog_row_metadata is " + v[3].value_or("?") +
                                      ": set binlog_row_metadata=FULL (MariaDB 10.5+)");
  }
  auto privs = conn.value().Query(
      "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN "
      "('REPLICATION SLAVE', 'SUPER')");
  if (!privs.ok()) return privs.status();
  if (privs.value().empty()) {
    return Status::FailedPrecondition(
        "user " + options_.dsn.user +
        " lacks REPLICATION SLAVE: GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO it");
  }
  SLUICE_RETURN_IF_ERROR(ResolveTables(conn.value()));
  return Status::Ok();
}

Status MariaDbSource::LoadState() {
  if (state_loaded_ || ctx_.state == nullptr) return Status::Ok();
  auto doc = ctx_.state->Load(kStateFile);
  if (!doc.ok()) return doc.status();
  std::lock_guard lock(state_mu_);
  if (doc.value()) {
    try {
      nlohmann::json j = nlohmann::json::parse(*doc.value());
      state_.started = j.contains("gtid");
      state_.gtid = j.value("gtid", "");
      state_.snapshot = ReadSnapshotRecord(j);
    } catch (const std::exception& e) {
      return Status::DataLoss("state " + ctx_.state->PathOf(kStateFile) +
                              " is damaged: " + e.what());
    }
  }
  state_loaded_ = true;
  return Status::Ok();
}

Status MariaDbSource::RecordStateLocked(const std::function<void(State&)>& change) {
  State next = state_;
  change(next);
  if (ctx_.state != nullptr) {
    nlohmann::json j = nlohmann::json::object();
    if (next.started) j["gtid"] = next.gtid;
    WriteSnapshotRecord(next.snapshot, &j);
    SLUICE_RETURN_IF_ERROR(ctx_.state->Save(kStateFile, j.dump()));
  }
  state_ = std::move(next);
  return Status::Ok();
}

const MyTable* MariaDbSource::Selected(const std::string& database, const std::string& table) {
  for (const MyTable& t : tables_) {
    if (t.database == database && t.name == table) return &t;
  }
  return nullptr;
}

bool MariaDbSource::Emit(Batch&& batch, BatchEmitter& out) {
  gate_.Emitted(batch.checkpoint);
  return out.Emit(std::move(batch), nullptr);
}

Status MariaDbSource::Run(BatchEmitter& out, const std::atomic<bool>& stop) {
  Backoff backoff(std::chrono::milliseconds(500), std::chrono::milliseconds(30000));
  while (!stop) {
    Status s = RunOnce(out, stop);
    if (stop || s.ok() || s.code() == StatusCode::kCancelled) break;
    if (Fatal(s)) {
      ctx_.status->Set(SourcePhase::kStopped, s.message());
      return s;
    }
    reconnects_.Add();
    ctx_.status->Set(SourcePhase::kReconnecting, s.message());
    spdlog::warn("pipeline {}: {}; reconnecting", ctx_.pipeline, s.message());
    auto until = std::chrono::steady_clock::now() + backoff.Next();
    while (!stop && std::chrono::steady_clock::now() < until) {
      ctx_.status->Beat();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ctx_.status->Set(SourcePhase::kStopped);
  return stop ? Status::Cancelled("stopped") : Status::Ok();
}

Status MariaDbSource::RunOnce(BatchEmitter& out, const std::atomic<bool>& stop) {
  ctx_.status->Set(SourcePhase::kStarting);
  SLUICE_RETURN_IF_ERROR(LoadState());
  {
    auto meta = MyConn::Connect(options_.dsn);
    if (!meta.ok()) return meta.status();
    SLUICE_RETURN_IF_ERROR(ResolveTables(meta.value()));
  }
  SLUICE_RETURN_IF_ERROR(Snapshot(out, stop));
  if (stop) return Status::Cancelled("stopped");
  std::string from = emitted_gtid_;
  if (from.empty()) {
    std::lock_guard lock(state_mu_);
    from = state_.gtid;
  }
  auto start = GtidState::Parse(from);
  if (!start.ok()) return Status::DataLoss("recorded GTID position: " + start.status().message());
  if (emitted_gtid_.empty()) {
    gate_.StartAt(Lsn(start.value().Position()));
    emitted_gtid_ = from;
  }
  return Stream(start.value(), out, stop);
}

void MariaDbSource::Confirm(const Checkpoint& checkpoint) {
  // Snapshot ranges are recorded before the GTID position moves past them; if the state
  // cannot be written, nothing of this checkpoint is taken as confirmed.
  std::lock_guard lock(state_mu_);
  std::vector<HandedOnRange> ranges = handed_on_.Between(gate_.durable_token(), checkpoint.token);
  gate_.Durable(checkpoint);
  Lsn confirmed = gate_.confirmed();
  std::string gtid;
  while (!pending_.empty() && pending_.front().first <= confirmed.value()) {
    gtid = pending_.front().second;
    pending_.pop_front();
  }
  if (ranges.empty() && gtid.empty()) return;
  Status s = RecordStateLocked([&](State& st) {
    for (const HandedOnRange& r : ranges) MarkRangeDone(&st.snapshot, r.table, r.range, r.rows);
    if (!gtid.empty()) st.gtid = gtid;
  });
  if (!s.ok()) spdlog::error("pipeline {}: cannot record progress: {}", ctx_.pipeline, s.message());
}

void RegisterMariaDbSource(Registry& registry) {
  for (const char* type : {"mariadb", "mysql"}) {
    SourcePlugin p;
    p.type = type;
    p.description =
        "MariaDB (MySQL 8: written from its protocol, untested): consistent snapshot, then the "
        "binary log as a replica";
    p.options = {
        {"dsn",
         OptionType::kSecret,
         "",
         true,
         "host=H port=P user=U password=${ENV} database=D; the user needs REPLICATION SLAVE, "
         "BINLOG MONITOR (REPLICATION CLIENT) and SELECT",
         {},
         DsnSecrets},
        {"server_id", OptionType::kInt, "", true,
         "This replica's server id: unique among the server's replicas and the server itself"},
        {"snapshot_chunk_rows", OptionType::kInt, "100000", false,
         "Rows per snapshot key range: the unit recorded as done, so a restart re-reads at "
         "most this many rows"},
        {"snapshot_parallelism", OptionType::kInt, "1", false,
         "Connections reading snapshot key ranges at once (only 1 is supported yet)"},
        {"heartbeat_interval", OptionType::kDuration, "1s", false,
         "How often the server sends a heartbeat while its binary log is idle"},
    };
    p.create = [](const SourceContext& ctx) -> Result<std::unique_ptr<Source>> {
      MariaDbOptions o;
      auto dsn = ParseDsn(ctx.options.String("dsn"));
      if (!dsn.ok()) return dsn.status();
      o.dsn = dsn.value();
      int64_t id = ctx.options.Int("server_id");
      if (id < 1 || id > 4294967295) {
        return Status::InvalidArgument("server_id must be between 1 and 4294967295");
      }
      o.server_id = static_cast<uint32_t>(id);
      o.snapshot_chunk_rows = ctx.options.Int("snapshot_chunk_rows");
      if (o.snapshot_chunk_rows < 1) {
        return Status::InvalidArgument("snapshot_chunk_rows must be at least 1");
      }
      if (ctx.options.Int("snapshot_parallelism") != 1) {
        return Status::InvalidArgument("snapshot_parallelism: only 1 is supported yet");
      }
      o.heartbeat_ms = static_cast<int>(ctx.options.Duration("heartbeat_interval").count());
      if (o.heartbeat_ms < 100)
        return Status::InvalidArgument("heartbeat_interval: at least 100ms");
      return std::unique_ptr<Source>(std::make_unique<MariaDbSource>(ctx, std::move(o)));
    };
    registry.AddSource(std::move(p));
  }
}

}  // namespace sluice::mariadb
