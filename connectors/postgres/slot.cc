#include "connectors/postgres/slot.h"

#include <chrono>
#include <thread>

namespace sluice::pg {

namespace {
// How long a walsender of this process, once closed, may take to let its slot go.
constexpr auto kWalsenderExit = std::chrono::seconds(5);
}  // namespace

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

Result<SlotInfo> LookupSlotReleasedBy(PgConn& conn, const std::string& slot,
                                      const std::string& closed) {
  auto info = LookupSlot(conn, slot);
  for (auto until = std::chrono::steady_clock::now() + kWalsenderExit;
       info.ok() && !info->active_pid.empty() && info->active_pid == closed &&
       std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    info = LookupSlot(conn, slot);
  }
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

Result<bool> SlotAvailable(PgConn& conn) {
  auto r = conn.Exec(
      "SELECT count(*) < current_setting('max_replication_slots')::int FROM pg_replication_slots");
  if (!r.ok()) return r.status();
  return GetText(r->get(), 0, 0) == "t";
}

Result<CreatedSlot> CreateSlot(PgConn& repl, const std::string& slot) {
  auto r = repl.Exec("CREATE_REPLICATION_SLOT " + repl.Ident(slot) +
                     " LOGICAL pgoutput EXPORT_SNAPSHOT");
  if (!r.ok()) {
    if (r.status().message().find("all replication slots are in use") != std::string::npos) {
      return Status::InvalidArgument(SlotsExhausted(slot));
    }
    return r.status();
  }
  CreatedSlot created;
  created.consistent_point = Lsn::Parse(GetText(r->get(), 0, 1)).value_or(Lsn());
  created.snapshot_name = GetText(r->get(), 0, 2);
  return created;
}

}  // namespace sluice::pg
