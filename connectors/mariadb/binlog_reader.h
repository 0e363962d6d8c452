// BinlogReader: a replica's connection to the binary log (Connector/C's mariadb_rpl_*,
// which frames the events), started after a GTID state. sluice decodes the events itself
// (binlog_event.h); Connector/C only hands over their bytes.
#pragma once

#include <mysql.h>
// mariadb_rpl.h needs mysql.h first.
#include <mariadb_rpl.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "connectors/mariadb/gtid_state.h"
#include "connectors/mariadb/my_conn.h"
#include "core/status.h"

namespace sluice::mariadb {

// Not thread-safe.
class BinlogReader {
 public:
  // Asks the server for every event group after `start` (@slave_connect_state), as replica
  // `server_id`, with a heartbeat every `heartbeat_ms` while the log is idle. DataLoss when
  // the server no longer has what follows `start` (purged binary logs), naming it.
  static Result<std::unique_ptr<BinlogReader>> Open(MyConn conn, const GtidState& start,
                                                    uint32_t server_id, int heartbeat_ms);
  ~BinlogReader();
  BinlogReader(const BinlogReader&) = delete;
  BinlogReader& operator=(const BinlogReader&) = delete;

  // The next event, whole (header to checksum); it views a buffer the next call reuses.
  // Unavailable when the connection is lost, DataLoss as for Open.
  Result<std::string_view> Next();

 private:
  BinlogReader(MyConn conn, std::string start) : conn_(std::move(conn)), start_(std::move(start)) {}
  Status Failed(const std::string& what);

  MyConn conn_;
  std::string start_;
  MARIADB_RPL* rpl_ = nullptr;
  MARIADB_RPL_EVENT* event_ = nullptr;
};

}  // namespace sluice::mariadb
