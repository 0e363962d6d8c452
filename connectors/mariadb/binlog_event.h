// The binary log's events as sluice reads them: bytes of one event -> a typed event. Pure
// (no I/O). Layouts are MariaDB's (sql/log_event.h, the MariaDB KB "Replication Protocol"
// pages), checked against captures of a real MariaDB 10.11 (tests/data/mariadb/); the
// version-2 rows events and MySQL's GTID event are MySQL 8's documented layout, not checked
// against a server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "connectors/mariadb/table_map.h"
#include "core/status.h"

namespace sluice::mariadb {

// Event type codes (the header's type byte).
enum EventType : uint8_t {
  kQueryEvent = 2,
  kStopEvent = 3,
  kRotateEvent = 4,
  kFormatDescriptionEvent = 15,
  kXidEvent = 16,
  kTableMapEvent = 19,
  kWriteRowsV1 = 23,
  kUpdateRowsV1 = 24,
  kDeleteRowsV1 = 25,
  kHeartbeatEvent = 27,
  kWriteRowsV2 = 30,  // MySQL 5.6+
  kUpdateRowsV2 = 31,
  kDeleteRowsV2 = 32,
  kMysqlGtidEvent = 33,
  kMysqlAnonymousGtidEvent = 34,
  kMysqlPreviousGtidsEvent = 35,
  kXaPrepareEvent = 38,
  kAnnotateRowsEvent = 160,
  kBinlogCheckpointEvent = 161,
  kGtidEvent = 162,
  kGtidListEvent = 163,
  kStartEncryptionEvent = 164,
  kQueryCompressedEvent = 165,
  kWriteRowsCompressedV1 = 166,
  kUpdateRowsCompressedV1 = 167,
  kDeleteRowsCompressedV1 = 168,
};

// The common header every event starts with (19 bytes).
struct EventHeader {
  uint32_t timestamp = 0;  // seconds since the epoch
  uint8_t type = 0;
  uint32_t server_id = 0;
  uint32_t size = 0;      // the whole event, header and checksum included
  uint32_t next_pos = 0;  // the event's end in its binlog file (0 for some artificial events)
  uint16_t flags = 0;
};
inline constexpr size_t kHeaderSize = 19;
inline constexpr uint16_t kArtificialFlag = 0x20;  // LOG_EVENT_ARTIFICIAL_F

// What earlier events told the decoder about later ones. Updated by DecodeEvent from each
// format description; a new stream starts with `checksum` as negotiated with the server.
struct FormatInfo {
  bool checksum = true;        // events end in a CRC32 (binlog_checksum=CRC32)
  uint8_t table_id_bytes = 6;  // 4 in logs of very old servers
  bool mysql = false;          // the server is MySQL, not MariaDB
};

struct FormatDescription {
  uint16_t binlog_version = 0;
  std::string server_version;
  bool checksum = false;
};
struct Rotate {
  uint64_t position = 0;
  std::string file;
};
// A GTID: domain-server-seq (MariaDB). MySQL's uuid:n is carried as domain 0, its
// transaction number as seq and the server id of the header.
struct Gtid {
  uint32_t domain = 0;
  uint32_t server = 0;
  uint64_t seq = 0;
  bool operator==(const Gtid&) const = default;
  std::string ToString() const;  // "0-1-42"
};
// An XA transaction's id (X/Open XID).
struct XaId {
  int32_t format_id = 0;
  std::string gtrid;
  std::string bqual;
  bool operator==(const XaId&) const = default;
};
// Starts an event group (a transaction, or one DDL statement).
struct GtidEvent {
  static constexpr uint8_t kStandalone = 0x01;  // no COMMIT/XID ends it (DDL)
  static constexpr uint8_t kTransactional = 0x04;
  static constexpr uint8_t kDdl = 0x20;
  static constexpr uint8_t kPreparedXa = 0x40;   // XA PREPARE: its rows, then XA_PREPARE
  static constexpr uint8_t kCompletedXa = 0x80;  // XA COMMIT / XA ROLLBACK of a prepared one
  Gtid gtid;
  uint8_t flags = 0;
  uint64_t commit_id = 0;
  XaId xid;  // with kPreparedXa or kCompletedXa
};
struct GtidList {
  std::vector<Gtid> gtids;
};
struct Query {
  uint32_t thread_id = 0;
  uint16_t error_code = 0;
  std::string database;
  std::string sql;
};
// Ends a transaction: COMMIT.
struct Xid {
  uint64_t xid = 0;
};
// Ends the prepare of an XA transaction (or commits it, with one_phase).
struct XaPrepare {
  bool one_phase = false;
  XaId xid;
};
// The statement that made the rows events that follow (binlog_annotate_row_events).
struct AnnotateRows {
  std::string sql;
};
// Sent by the server while the binary log is idle (master_heartbeat_period).
struct Heartbeat {
  std::string file;
};
// A rows event, not yet decoded: that needs its table's map (DecodeRows, rows_event.h).
struct RowsEvent {
  enum class Kind : uint8_t { kWrite, kUpdate, kDelete };
  Kind kind = Kind::kWrite;
  uint64_t table_id = 0;
  uint16_t flags = 0;     // 0x01: the statement's last rows event
  std::string_view body;  // from the column count on; views the event's bytes
  static constexpr uint16_t kStmtEnd = 0x01;
};
// Any event sluice has no use for (binlog checkpoint, MySQL's previous GTIDs, ...).
struct Other {};

using EventBody = std::variant<Other, FormatDescription, Rotate, GtidEvent, GtidList, Query, Xid,
                               XaPrepare, AnnotateRows, Heartbeat, TableMap, RowsEvent>;

struct Event {
  EventHeader header;
  EventBody body;
};

// Decodes one whole event (header to checksum). Checks the CRC32 when `format` says events
// carry one; a format description updates `format`. Views into `bytes` (RowsEvent::body)
// live as long as `bytes`. DataLoss on a corrupt event (bad checksum, truncated, a length
// that does not fit), naming what was wrong; Internal for an encrypted or compressed log,
// which sluice does not read.
Result<Event> DecodeEvent(std::string_view bytes, FormatInfo* format);

// The header alone; false when fewer than 19 bytes.
bool DecodeHeader(std::string_view bytes, EventHeader* header);

// Gtid text forms: "0-1-42"; a list "0-1-42,1-2-7". ParseGtidList accepts what
// @@gtid_binlog_pos and BINLOG_GTID_POS() return (the empty string is the empty list).
Result<std::vector<Gtid>> ParseGtidList(std::string_view text);
std::string GtidListText(const std::vector<Gtid>& gtids);

}  // namespace sluice::mariadb
