// Replication slots: looking one up, creating one with an exported snapshot, and the
// messages for what can be wrong with one. Queries only; the rules are PostgresSource's.
#pragma once

#include <string>

#include "connectors/postgres/pg_conn.h"
#include "core/lsn.h"
#include "core/status.h"

namespace sluice::pg {

// A row of pg_replication_slots (exists = false when there is none).
struct SlotInfo {
  bool exists = false;
  Lsn confirmed_flush;
  std::string wal_status;
  std::string active_pid;  // empty when no process reads it
  std::string database;
  std::string plugin;
};

Result<SlotInfo> LookupSlot(PgConn& conn, const std::string& slot);
// The slot, once the walsender this process closed (pid `closed`, may be empty) has let it
// go, or after a few seconds.
Result<SlotInfo> LookupSlotReleasedBy(PgConn& conn, const std::string& slot,
                                      const std::string& closed);
// Whether the server has room for one more replication slot.
Result<bool> SlotAvailable(PgConn& conn);

struct CreatedSlot {
  Lsn consistent_point;
  std::string snapshot_name;  // valid until `repl` runs its next command
};
// CREATE_REPLICATION_SLOT slot LOGICAL pgoutput EXPORT_SNAPSHOT on replication connection
// `repl`. InvalidArgument when every slot is taken.
Result<CreatedSlot> CreateSlot(PgConn& repl, const std::string& slot);

std::string SlotsExhausted(const std::string& slot);
std::string WrongPlugin(const std::string& slot, const std::string& plugin);

}  // namespace sluice::pg
