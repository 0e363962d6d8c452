#include "connectors/postgres/pgoutput_decoder.h"

#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "connectors/postgres/wire.h"

namespace sluice::pg {
namespace {

const char* MessageName(char type) {
  switch (type) {
    case 'B':
      return "Begin";
    case 'C':
      return "Commit";
    case 'O':
      return "Origin";
    case 'R':
      return "Relation";
    case 'Y':
      return "Type";
    case 'I':
      return "Insert";
    case 'U':
      return "Update";
    case 'D':
      return "Delete";
    case 'T':
      return "Truncate";
    case 'M':
      return "Message";
    case 'S':
      return "StreamStart";
    case 'E':
      return "StreamStop";
    case 'c':
      return "StreamCommit";
    case 'A':
      return "StreamAbort";
    default:
      return "unknown";
  }
}

// Messages that carry the (sub)transaction xid right after the type byte when they are
// sent inside a stream block (protocol version 2+).
bool CarriesStreamXid(char type) {
  switch (type) {
    case 'R':
    case 'Y':
    case 'I':
    case 'U':
    case 'D':
    case 'T':
    case 'M':
      return true;
    default:
      return false;
  }
}

// Bounds-checked big-endian reader over one message. The first failure is recorded and
// stops all further reads (they return zeros), so decoders check once at the end, and
// before anything whose size comes from the input.
class Reader {
 public:
  explicit Reader(std::string_view buf) : buf_(buf), pos_(1), name_(MessageName(buf[0])) {}

  bool ok() const { return error_.empty(); }
  size_t remaining() const { return buf_.size() - pos_; }

  uint8_t U8(const char* what) { return static_cast<uint8_t>(BigEndian(1, what)); }
  uint16_t U16(const char* what) { return static_cast<uint16_t>(BigEndian(2, what)); }
  uint32_t U32(const char* what) { return static_cast<uint32_t>(BigEndian(4, what)); }
  uint64_t U64(const char* what) { return BigEndian(8, what); }
  int64_t I64(const char* what) { return static_cast<int64_t>(U64(what)); }
  Lsn LsnAt(const char* what) { return Lsn(U64(what)); }

  std::string_view Bytes(size_t n, const char* what) {
    if (!Need(n, what)) return {};
    std::string_view out = buf_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  // A NUL-terminated String; the terminator is consumed, not returned.
  std::string_view Str(const char* what) {
    if (!ok()) return {};
    const void* nul = std::memchr(buf_.data() + pos_, '\0', remaining());
    if (nul == nullptr) {
      Fail(std::string("truncated: no terminating NUL in ") + what);
      return {};
    }
    size_t len = static_cast<const char*>(nul) - (buf_.data() + pos_);
    std::string_view out = buf_.substr(pos_, len);
    pos_ += len + 1;
    return out;
  }

  // Records the first failure; later reads return zeros.
  void Fail(std::string detail) {
    if (!ok()) return;
    error_ = std::string("pgoutput ") + name_ + " message: " + detail + " at offset " +
             std::to_string(pos_) + " of " + std::to_string(buf_.size()) + " bytes";
    pos_ = buf_.size();
  }
  void Invalid(const char* what, unsigned value) {
    Fail(std::string("invalid ") + what + " " + std::to_string(value));
  }

  // OK when everything was read and nothing is left over.
  Status Finish() {
    if (ok() && remaining() != 0) {
      Fail(std::to_string(remaining()) + " unexpected trailing bytes");
    }
    if (!ok()) return Status::Internal(error_);
    return Status::Ok();
  }

 private:
  bool Need(size_t n, const char* what) {
    if (!ok()) return false;
    if (remaining() < n) {
      Fail(std::string("truncated: need ") + std::to_string(n) + " bytes for " + what + ", have " +
           std::to_string(remaining()));
      return false;
    }
    return true;
  }

  uint64_t BigEndian(size_t n, const char* what) {
    if (!Need(n, what)) return 0;
    uint64_t v = ReadBigEndian(buf_.data() + pos_, n);
    pos_ += n;
    return v;
  }

  std::string_view buf_;
  size_t pos_;
  const char* name_;
  std::string error_;  // empty while OK; allocated only on failure
};

void ReadTuple(Reader& r, Tuple* tuple) {
  uint16_t n = r.U16("tuple column count");
  if (!r.ok()) return;
  if (n > r.remaining()) {  // every column takes at least its kind byte
    r.Fail("truncated: " + std::to_string(n) + " tuple columns announced, " +
           std::to_string(r.remaining()) + " bytes left");
    return;
  }
  tuple->resize(n);
  for (TupleColumn& col : *tuple) {
    col.kind = static_cast<char>(r.U8("tuple column kind"));
    switch (col.kind) {
      case 'n':
      case 'u':
        break;
      case 't':
      case 'b': {
        uint32_t len = r.U32("tuple column length");
        if (len > static_cast<uint32_t>(std::numeric_limits<int32_t>::max())) {
          r.Invalid("tuple column length", len);
        }
        col.data = r.Bytes(len, "tuple column data");
        break;
      }
      default:
        if (r.ok()) r.Invalid("tuple column kind", static_cast<unsigned char>(col.kind));
    }
    if (!r.ok()) return;
  }
}

// Reads the marker byte that precedes a tuple and checks it is one of `allowed`.
char ReadTupleMarker(Reader& r, std::string_view allowed) {
  char c = static_cast<char>(r.U8("tuple marker"));
  if (r.ok() && allowed.find(c) == std::string_view::npos) {
    r.Invalid("tuple marker", static_cast<unsigned char>(c));
  }
  return c;
}

Result<PgoutputMessage> Done(Reader& r, PgoutputMessage msg) {
  SLUICE_RETURN_IF_ERROR(r.Finish());
  return msg;
}

Result<PgoutputMessage> DecodeBegin(Reader& r) {
  BeginMsg m;
  m.final_lsn = r.LsnAt("final LSN");
  m.commit_time_us = PgTimestampToUnixMicros(r.I64("commit timestamp"));
  m.xid = r.U32("xid");
  return Done(r, m);
}

Result<PgoutputMessage> DecodeCommit(Reader& r) {
  CommitMsg m;
  m.flags = r.U8("flags");
  m.commit_lsn = r.LsnAt("commit LSN");
  m.end_lsn = r.LsnAt("end LSN");
  m.commit_time_us = PgTimestampToUnixMicros(r.I64("commit timestamp"));
  return Done(r, m);
}

Result<PgoutputMessage> DecodeOrigin(Reader& r) {
  OriginMsg m;
  m.commit_lsn = r.LsnAt("origin commit LSN");
  m.name = r.Str("origin name");
  return Done(r, m);
}

Result<PgoutputMessage> DecodeRelation(Reader& r) {
  RelationMsg m;
  m.oid = r.U32("relation oid");
  m.schema = r.Str("namespace");
  m.name = r.Str("relation name");
  m.replica_identity = static_cast<char>(r.U8("replica identity"));
  uint16_t n = r.U16("column count");
  // Each column needs at least flags, an empty name's NUL, type oid and typmod.
  if (r.ok() && size_t{n} * 10 > r.remaining()) {
    r.Fail("truncated: " + std::to_string(n) + " columns announced, " +
           std::to_string(r.remaining()) + " bytes left");
  }
  if (r.ok()) m.columns.resize(n);
  for (RelationColumn& col : m.columns) {
    col.key = (r.U8("column flags") & 1) != 0;
    col.name = r.Str("column name");
    col.type_oid = r.U32("column type oid");
    col.typmod = static_cast<int32_t>(r.U32("column typmod"));
    if (!r.ok()) break;
  }
  return Done(r, m);
}

Result<PgoutputMessage> DecodeType(Reader& r) {
  TypeMsg m;
  m.oid = r.U32("type oid");
  m.schema = r.Str("namespace");
  m.name = r.Str("type name");
  return Done(r, m);
}

Result<PgoutputMessage> DecodeInsert(Reader& r) {
  InsertMsg m;
  m.relation_oid = r.U32("relation oid");
  ReadTupleMarker(r, "N");
  ReadTuple(r, &m.new_tuple);
  return Done(r, m);
}

Result<PgoutputMessage> DecodeUpdate(Reader& r) {
  UpdateMsg m;
  m.relation_oid = r.U32("relation oid");
  char marker = ReadTupleMarker(r, "KON");
  if (r.ok() && marker != 'N') {
    m.old_kind = marker;
    ReadTuple(r, &m.old_tuple);
    ReadTupleMarker(r, "N");
  }
  ReadTuple(r, &m.new_tuple);
  return Done(r, m);
}

Result<PgoutputMessage> DecodeDelete(Reader& r) {
  DeleteMsg m;
  m.relation_oid = r.U32("relation oid");
  m.old_kind = ReadTupleMarker(r, "KO");
  ReadTuple(r, &m.old_tuple);
  return Done(r, m);
}

Result<PgoutputMessage> DecodeTruncate(Reader& r) {
  TruncateMsg m;
  uint32_t n = r.U32("relation count");
  m.options = r.U8("options");
  if (r.ok() && size_t{n} * 4 > r.remaining()) {
    r.Fail("truncated: " + std::to_string(n) + " relations announced, " +
           std::to_string(r.remaining()) + " bytes left");
  }
  if (r.ok()) m.relation_oids.resize(n);
  for (uint32_t& oid : m.relation_oids) oid = r.U32("relation oid");
  return Done(r, m);
}

Result<PgoutputMessage> DecodeLogical(Reader& r) {
  LogicalMsg m;
  m.transactional = (r.U8("flags") & 1) != 0;
  m.lsn = r.LsnAt("message LSN");
  m.prefix = r.Str("prefix");
  uint32_t len = r.U32("content length");
  m.content = r.Bytes(len, "content");
  return Done(r, m);
}

Result<PgoutputMessage> DecodeStreamStart(Reader& r) {
  StreamStartMsg m;
  m.xid = r.U32("xid");
  m.first_segment = r.U8("first segment flag") == 1;
  return Done(r, m);
}

Result<PgoutputMessage> DecodeStreamCommit(Reader& r) {
  StreamCommitMsg m;
  m.xid = r.U32("xid");
  m.flags = r.U8("flags");
  m.commit_lsn = r.LsnAt("commit LSN");
  m.end_lsn = r.LsnAt("end LSN");
  m.commit_time_us = PgTimestampToUnixMicros(r.I64("commit timestamp"));
  return Done(r, m);
}

Result<PgoutputMessage> DecodeStreamAbort(Reader& r) {
  StreamAbortMsg m;
  m.xid = r.U32("xid");
  m.subxid = r.U32("subtransaction xid");
  // Protocol 4 with streaming 'parallel' appends the abort LSN and time.
  if (r.ok() && r.remaining() > 0) {
    m.abort_lsn = r.LsnAt("abort LSN");
    m.abort_time_us = PgTimestampToUnixMicros(r.I64("abort timestamp"));
  }
  return Done(r, m);
}

Result<PgoutputMessage> DecodeBody(char type, Reader& r) {
  switch (type) {
    case 'B':
      return DecodeBegin(r);
    case 'C':
      return DecodeCommit(r);
    case 'O':
      return DecodeOrigin(r);
    case 'R':
      return DecodeRelation(r);
    case 'Y':
      return DecodeType(r);
    case 'I':
      return DecodeInsert(r);
    case 'U':
      return DecodeUpdate(r);
    case 'D':
      return DecodeDelete(r);
    case 'T':
      return DecodeTruncate(r);
    case 'M':
      return DecodeLogical(r);
    case 'S':
      return DecodeStreamStart(r);
    case 'E':
      return Done(r, StreamStopMsg{});
    case 'c':
      return DecodeStreamCommit(r);
    case 'A':
      return DecodeStreamAbort(r);
    default: {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", static_cast<unsigned char>(type));
      return Status::Internal(std::string("pgoutput: unsupported message type ") + hex);
    }
  }
}

// `*xid` receives the stream xid when `in_stream` and the message carries one, else 0.
Result<PgoutputMessage> DecodeMessage(std::string_view payload, bool in_stream, uint32_t* xid) {
  *xid = 0;
  if (payload.empty()) return Status::Internal("pgoutput: empty message");
  char type = payload[0];
  Reader r(payload);
  if (in_stream && CarriesStreamXid(type)) {
    *xid = r.U32("stream xid");
    if (!r.ok()) return r.Finish();
  }
  return DecodeBody(type, r);
}

}  // namespace

int64_t PgTimestampToUnixMicros(int64_t pg_us) {
  if (pg_us > std::numeric_limits<int64_t>::max() - kPgEpochOffsetUs) {
    return std::numeric_limits<int64_t>::max();
  }
  return pg_us + kPgEpochOffsetUs;
}

Result<PgoutputMessage> DecodePgoutput(std::string_view payload) {
  uint32_t xid = 0;
  return DecodeMessage(payload, false, &xid);
}

Result<PgoutputMessage> PgoutputDecoder::Decode(std::string_view payload) {
  uint32_t xid = 0;
  Result<PgoutputMessage> msg = DecodeMessage(payload, in_stream_, &xid);
  if (!msg.ok()) return msg;
  const PgoutputMessage& m = msg.value();
  bool starts = std::holds_alternative<StreamStartMsg>(m);
  bool stops = std::holds_alternative<StreamStopMsg>(m);
  bool outside_only = std::holds_alternative<BeginMsg>(m) || std::holds_alternative<CommitMsg>(m) ||
                      std::holds_alternative<StreamCommitMsg>(m) ||
                      std::holds_alternative<StreamAbortMsg>(m);
  if (in_stream_ && (starts || outside_only)) {
    return Status::Internal(std::string("pgoutput: ") + MessageName(payload[0]) +
                            " message inside a stream block");
  }
  if (!in_stream_ && stops) {
    return Status::Internal("pgoutput: StreamStop message outside a stream block");
  }
  if (starts) in_stream_ = true;
  if (stops) in_stream_ = false;
  stream_xid_ = xid;
  return msg;
}

}  // namespace sluice::pg
