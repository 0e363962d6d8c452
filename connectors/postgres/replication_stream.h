// ReplicationStream: the streaming half of a logical replication connection. Starts
// replication from a slot, hands out XLogData payloads one at a time, answers nothing by
// itself: the caller decides what to confirm (SendStatus), never more than is durable.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/postgres/pg_conn.h"
#include "core/lsn.h"

namespace sluice::pg {

// One message from the server: 'w' XLogData (payload = one pgoutput message) or
// 'k' primary keepalive.
struct StreamMessage {
  char type = 0;
  Lsn wal_start;                 // 'w': where the data starts
  Lsn wal_end;                   // current end of WAL on the server (sent position for logical)
  bool reply_requested = false;  // 'k': the server wants a status update now
  std::string_view payload;      // 'w': valid until the next Next() call
};

// Owns the connection; one thread.
class ReplicationStream {
 public:
  explicit ReplicationStream(PgConn conn) : conn_(std::move(conn)) {}
  ~ReplicationStream();
  ReplicationStream(ReplicationStream&&) = delete;

  // START_REPLICATION SLOT slot LOGICAL start (proto_version, publication_names, ...).
  // An invalid `start` (0/0) resumes from the slot's confirmed_flush_lsn.
  Status Start(const std::string& slot, const std::string& publication, Lsn start,
               int proto_version);

  // Waits up to `timeout` for the next message; nullopt on timeout.
  // Unavailable when the connection drops or the server ends the stream.
  // `gather`: when no message is at hand, first pause this long (within `timeout`) and take
  // what arrived meanwhile, so that a stream the server sends one message per packet is
  // read with one wake-up per many messages instead of one per message.
  Result<std::optional<StreamMessage>> Next(std::chrono::milliseconds timeout,
                                            std::chrono::microseconds gather = {});

  // Standby status update: `write` = received, `flush` = `apply` = durable in every sink.
  Status SendStatus(Lsn write, Lsn flush, bool reply_requested);

  PgConn& conn() { return conn_; }

 private:
  PgConn conn_;
  char* buffer_ = nullptr;  // owned by libpq; freed before the next read
};

// Microseconds since 2000-01-01, PostgreSQL's epoch, for protocol timestamps.
int64_t PgEpochNowUs();

}  // namespace sluice::pg
