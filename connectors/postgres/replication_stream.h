// ReplicationStream: the streaming half of a logical replication connection. Starts
// replication from a slot, hands out XLogData payloads one at a time, answers nothing by
// itself: the caller decides what to confirm (SendStatus), never more than is durable.
#pragma once

#include <chrono>
#include <deque>
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

  // While the caller cannot take messages (its sinks are full), keeps the server's socket
  // drained so the walsender is never left blocked writing to it: takes every whole message
  // that has arrived, without waiting, into a buffer that Next() serves first, until the
  // buffer holds `budget` bytes. Keepalives are not buffered: the highest WAL end they
  // carried goes to `*wal_end`, and `*reply_requested` is set if one asked for a status.
  Status ReadAhead(size_t budget, Lsn* wal_end, bool* reply_requested);
  size_t read_ahead_bytes() const { return ahead_bytes_; }

  PgConn& conn() { return conn_; }

 private:
  // Parses one CopyData message of `n` bytes (valid until the next read).
  Result<StreamMessage> Parse(const char* data, int n) const;
  // A whole message libpq holds, without reading the socket: n > 0 bytes in buffer_, 0 when
  // none is buffered, else an error.
  Result<int> Take();

  PgConn conn_;
  char* buffer_ = nullptr;         // owned by libpq; freed before the next read
  std::deque<std::string> ahead_;  // XLogData read ahead, in order; served before the socket
  std::string current_;            // the read-ahead message Next() handed out last
  size_t ahead_bytes_ = 0;
};

// Microseconds since 2000-01-01, PostgreSQL's epoch, for protocol timestamps.
int64_t PgEpochNowUs();

}  // namespace sluice::pg
