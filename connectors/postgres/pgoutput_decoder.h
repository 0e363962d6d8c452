// Decoder for the pgoutput logical replication protocol: the bytes of one message (the
// payload of an XLogData 'w' message, or one row of pg_logical_slot_get_binary_changes)
// become one typed message. Pure code: no I/O, no libpq.
//
// Protocol facts (PostgreSQL docs, "Logical Replication Message Formats"): integers are
// big-endian, strings are NUL-terminated, LSNs are Int64, timestamps are Int64
// microseconds since 2000-01-01 00:00:00 UTC (converted here to the UNIX epoch).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/lsn.h"
#include "core/status.h"

namespace sluice::pg {

// Relation ('R'): the column layout that later tuples refer to by oid. Sent before the
// first change of a relation in a session, and again whenever its layout changes.
struct RelationColumn {
  std::string name;
  uint32_t type_oid = 0;
  int32_t typmod = -1;
  bool key = false;  // part of the replica identity (flag bit 1)
};
struct RelationMsg {
  uint32_t oid = 0;
  std::string schema;  // empty for pg_catalog
  std::string name;
  char replica_identity = 'd';  // relreplident: 'd' default, 'n' nothing, 'f' full, 'i' index
  std::vector<RelationColumn> columns;
};

// One column of TupleData: kind 'n' null, 'u' unchanged TOAST (no data), 't' text,
// 'b' binary. `data` views the payload buffer, so it lives only as long as the payload.
struct TupleColumn {
  char kind = 'n';
  std::string_view data;
};
using Tuple = std::vector<TupleColumn>;

struct BeginMsg {
  Lsn final_lsn;               // the LSN of the transaction's commit record
  int64_t commit_time_us = 0;  // UNIX epoch microseconds
  uint32_t xid = 0;
};
struct CommitMsg {
  uint8_t flags = 0;  // unused, 0
  Lsn commit_lsn;
  Lsn end_lsn;  // end of the commit record: what to confirm once the transaction is durable
  int64_t commit_time_us = 0;
};
// Sent after Begin when the transaction came from another node (replication origin).
struct OriginMsg {
  Lsn commit_lsn;  // the commit LSN on the origin server
  std::string name;
};
// Sent before a Relation that uses a non-built-in type (enum, domain, user array, ...).
struct TypeMsg {
  uint32_t oid = 0;
  std::string schema, name;
};
struct InsertMsg {
  uint32_t relation_oid = 0;
  Tuple new_tuple;
};
struct UpdateMsg {
  uint32_t relation_oid = 0;
  // 0: no old tuple (key unchanged, or identity NOTHING); 'K': old key columns only (the
  // others are 'n'); 'O': the whole old row (REPLICA IDENTITY FULL).
  char old_kind = 0;
  Tuple old_tuple;
  Tuple new_tuple;
};
struct DeleteMsg {
  uint32_t relation_oid = 0;
  char old_kind = 'K';  // 'K' old key columns, 'O' whole old row
  Tuple old_tuple;
};
struct TruncateMsg {
  static constexpr uint8_t kCascade = 1;
  static constexpr uint8_t kRestartIdentity = 2;
  uint8_t options = 0;
  std::vector<uint32_t> relation_oids;
};
// pg_logical_emit_message(); needs the 'messages' plugin option.
struct LogicalMsg {
  bool transactional = false;
  Lsn lsn;
  std::string prefix;
  std::string_view content;  // views the payload buffer
};

// Protocol version 2+ with `streaming 'on'`: a large in-progress transaction arrives in
// blocks between StreamStart and StreamStop, then ends with StreamCommit or StreamAbort.
struct StreamStartMsg {
  uint32_t xid = 0;
  bool first_segment = false;  // the first block of this transaction
};
struct StreamStopMsg {};
struct StreamCommitMsg {
  uint32_t xid = 0;
  uint8_t flags = 0;
  Lsn commit_lsn;
  Lsn end_lsn;
  int64_t commit_time_us = 0;
};
// Aborts subtransaction `subxid` of `xid`, or the whole transaction when subxid == xid:
// its streamed changes must be discarded.
struct StreamAbortMsg {
  uint32_t xid = 0;
  uint32_t subxid = 0;
  Lsn abort_lsn;              // protocol 4 with streaming 'parallel' only; else 0
  int64_t abort_time_us = 0;  // likewise
};

using PgoutputMessage =
    std::variant<BeginMsg, CommitMsg, OriginMsg, RelationMsg, TypeMsg, InsertMsg, UpdateMsg,
                 DeleteMsg, TruncateMsg, LogicalMsg, StreamStartMsg, StreamStopMsg, StreamCommitMsg,
                 StreamAbortMsg>;

// Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch).
inline constexpr int64_t kPgEpochOffsetUs = 946'684'800'000'000;
// PostgreSQL-epoch microseconds -> UNIX-epoch microseconds, saturating at the int64 ends.
int64_t PgTimestampToUnixMicros(int64_t pg_us);

// Decodes one message outside a stream block (protocol version 1, or 2+ without
// streaming). Stream control messages are accepted too. Malformed or truncated input
// yields Status::Internal naming the message type and the missing field; never reads out
// of bounds. Views in the result point into `payload`.
Result<PgoutputMessage> DecodePgoutput(std::string_view payload);

// Decodes a session's messages in order when streaming is on: between StreamStart and
// StreamStop, data messages carry the xid of the (sub)transaction they belong to, which
// this decoder strips and exposes as stream_xid(). One per replication connection;
// not thread-safe.
class PgoutputDecoder {
 public:
  PgoutputDecoder() = default;

  Result<PgoutputMessage> Decode(std::string_view payload);

  bool in_stream() const { return in_stream_; }
  // The xid the last decoded message carried inside a stream block; 0 outside one.
  uint32_t stream_xid() const { return stream_xid_; }

 private:
  bool in_stream_ = false;
  uint32_t stream_xid_ = 0;
};

}  // namespace sluice::pg
