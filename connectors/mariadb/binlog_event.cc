#include "connectors/mariadb/binlog_event.h"

#include <zlib.h>

#include <charconv>

#include "connectors/mariadb/byte_reader.h"

namespace sluice::mariadb {

namespace {

constexpr size_t kChecksumSize = 4;

std::string Hex32(uint32_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kDigits[(v >> shift) & 0xf]);
  return out;
}

bool ChecksumMatches(std::string_view bytes) {
  std::string_view covered = bytes.substr(0, bytes.size() - kChecksumSize);
  auto crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(covered.data()), static_cast<uInt>(covered.size())));
  ByteReader tail(bytes.substr(bytes.size() - kChecksumSize));
  return crc == static_cast<uint32_t>(tail.Uint(4));
}

// The format description: binlog version (2), server version (50, NUL-padded), created
// (4), header length (1), one post-header length per event type, then (servers with
// checksums) the checksum algorithm (1) and a checksum (4) that is there even when the
// algorithm is off.
Result<FormatDescription> DecodeFormatDescription(std::string_view body, FormatInfo* format) {
  ByteReader r(body);
  FormatDescription fd;
  fd.binlog_version = static_cast<uint16_t>(r.Uint(2));
  std::string_view version = r.Bytes(50);
  fd.server_version = std::string(version.substr(0, version.find('\0')));
  r.Skip(4);
  uint8_t header_len = r.U8();
  if (!r.ok() || fd.binlog_version != 4 || header_len != kHeaderSize) {
    return Status::DataLoss("format description: binlog version " +
                            std::to_string(fd.binlog_version) + ", header length " +
                            std::to_string(header_len) + " (only version 4, 19 are read)");
  }
  // The checksum algorithm byte (and a checksum when it is on) end the event; DecodeEvent
  // read them and told `format`.
  std::string_view lengths = r.Rest();
  fd.checksum = format->checksum;
  if (lengths.size() >= kTableMapEvent && lengths[kTableMapEvent - 1] == 6) {
    format->table_id_bytes = 4;
  } else {
    format->table_id_bytes = 6;
  }
  format->mysql = fd.server_version.find("MariaDB") == std::string::npos;
  return fd;
}

XaId ReadXid(ByteReader& r, size_t gtrid_len, size_t bqual_len, int32_t format_id) {
  XaId x;
  x.format_id = format_id;
  x.gtrid = std::string(r.Bytes(gtrid_len));
  x.bqual = std::string(r.Bytes(bqual_len));
  return x;
}

// MariaDB's GTID event: seq (8), domain (4), flags (1), then a commit id (8) or, for XA, the
// XID (format 4, gtrid length 1, bqual length 1, data), else 6 zero bytes; later servers
// append extra flags, which sluice does not need.
GtidEvent DecodeGtid(ByteReader& r, uint32_t server_id) {
  GtidEvent g;
  g.gtid.seq = r.Uint(8);
  g.gtid.domain = static_cast<uint32_t>(r.Uint(4));
  g.gtid.server = server_id;
  g.flags = r.U8();
  if (g.flags & 0x02) {  // FL_GROUP_COMMIT_ID
    g.commit_id = r.Uint(8);
  } else if (g.flags & (GtidEvent::kPreparedXa | GtidEvent::kCompletedXa)) {
    auto format_id = static_cast<int32_t>(r.Uint(4));
    uint8_t gtrid_len = r.U8();
    uint8_t bqual_len = r.U8();
    g.xid = ReadXid(r, gtrid_len, bqual_len, format_id);
  }
  return g;
}

// MySQL's GTID event: flags (1), source uuid (16), transaction number (8), then logical
// clock fields. Carried as domain 0 with the transaction number as seq (documented format,
// not checked against a server).
GtidEvent DecodeMysqlGtid(ByteReader& r, uint32_t server_id) {
  GtidEvent g;
  r.Skip(1 + 16);
  g.gtid.seq = r.Uint(8);
  g.gtid.server = server_id;
  return g;
}

GtidList DecodeGtidList(ByteReader& r) {
  GtidList list;
  auto count = static_cast<uint32_t>(r.Uint(4)) & 0x0fffffff;  // the top 4 bits are flags
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    Gtid g;
    g.domain = static_cast<uint32_t>(r.Uint(4));
    g.server = static_cast<uint32_t>(r.Uint(4));
    g.seq = r.Uint(8);
    list.gtids.push_back(g);
  }
  return list;
}

// Query: thread id (4), exec time (4), database length (1), error code (2), status
// variables length (2), the status variables, the database name, NUL, the statement.
Query DecodeQuery(ByteReader& r) {
  Query q;
  q.thread_id = static_cast<uint32_t>(r.Uint(4));
  r.Skip(4);
  uint8_t db_len = r.U8();
  q.error_code = static_cast<uint16_t>(r.Uint(2));
  r.Skip(static_cast<size_t>(r.Uint(2)));
  q.database = std::string(r.Bytes(db_len));
  r.Skip(1);
  q.sql = std::string(r.Rest());
  return q;
}

// XA_PREPARE: one phase (1), format id (4), gtrid length (4), bqual length (4), data.
XaPrepare DecodeXaPrepare(ByteReader& r) {
  XaPrepare x;
  x.one_phase = r.U8() != 0;
  auto format_id = static_cast<int32_t>(r.Uint(4));
  auto gtrid_len = static_cast<size_t>(r.Uint(4));
  auto bqual_len = static_cast<size_t>(r.Uint(4));
  x.xid = ReadXid(r, gtrid_len, bqual_len, format_id);
  return x;
}

RowsEvent DecodeRowsEvent(ByteReader& r, uint8_t type, const FormatInfo& format) {
  RowsEvent e;
  switch (type) {
    case kWriteRowsV1:
    case kWriteRowsV2:
      e.kind = RowsEvent::Kind::kWrite;
      break;
    case kUpdateRowsV1:
    case kUpdateRowsV2:
      e.kind = RowsEvent::Kind::kUpdate;
      break;
    default:
      e.kind = RowsEvent::Kind::kDelete;
      break;
  }
  e.table_id = r.Uint(format.table_id_bytes);
  e.flags = static_cast<uint16_t>(r.Uint(2));
  if (type >= kWriteRowsV2 && type <= kDeleteRowsV2) {
    // Version 2: extra data, its length (2) counting itself.
    auto extra = static_cast<size_t>(r.Uint(2));
    r.Skip(extra >= 2 ? extra - 2 : 0);
  }
  e.body = r.Rest();
  return e;
}

Result<EventBody> DecodeBody(const EventHeader& h, std::string_view body, FormatInfo* format) {
  ByteReader r(body);
  EventBody out;
  switch (h.type) {
    case kFormatDescriptionEvent: {
      auto fd = DecodeFormatDescription(body, format);
      if (!fd.ok()) return fd.status();
      return EventBody(std::move(fd).value());
    }
    case kRotateEvent: {
      Rotate rot;
      rot.position = r.Uint(8);
      rot.file = std::string(r.Rest());
      out = std::move(rot);
      break;
    }
    case kGtidEvent:
      out = DecodeGtid(r, h.server_id);
      break;
    case kMysqlGtidEvent:
    case kMysqlAnonymousGtidEvent:
      out = DecodeMysqlGtid(r, h.server_id);
      break;
    case kGtidListEvent:
      out = DecodeGtidList(r);
      break;
    case kQueryEvent:
      out = DecodeQuery(r);
      break;
    case kXidEvent:
      out = Xid{r.Uint(8)};
      break;
    case kXaPrepareEvent:
      out = DecodeXaPrepare(r);
      break;
    case kAnnotateRowsEvent:
      out = AnnotateRows{std::string(r.Rest())};
      break;
    case kHeartbeatEvent:
      out = Heartbeat{std::string(r.Rest())};
      break;
    case kTableMapEvent: {
      auto map = DecodeTableMap(body, format->table_id_bytes);
      if (!map.ok()) return map.status();
      return EventBody(std::move(map).value());
    }
    case kWriteRowsV1:
    case kUpdateRowsV1:
    case kDeleteRowsV1:
    case kWriteRowsV2:
    case kUpdateRowsV2:
    case kDeleteRowsV2:
      out = DecodeRowsEvent(r, h.type, *format);
      break;
    case kStartEncryptionEvent:
      return Status::Internal(
          "the binary log is encrypted (encrypt_binlog=ON), which sluice cannot read");
    case kQueryCompressedEvent:
    case kWriteRowsCompressedV1:
    case kUpdateRowsCompressedV1:
    case kDeleteRowsCompressedV1:
    case kWriteRowsCompressedV1 + 3:  // WRITE/UPDATE/DELETE_ROWS_COMPRESSED_EVENT (v2)
    case kWriteRowsCompressedV1 + 4:
    case kWriteRowsCompressedV1 + 5:
      return Status::Internal(
          "the binary log is compressed (log_bin_compress=ON), which sluice does not read: "
          "set log_bin_compress=OFF");
    default:
      break;
  }
  if (!r.ok()) {
    return Status::DataLoss("binlog event of type " + std::to_string(h.type) + " at " +
                            std::to_string(h.next_pos) + ": truncated");
  }
  return out;
}

}  // namespace

std::string Gtid::ToString() const {
  return std::to_string(domain) + "-" + std::to_string(server) + "-" + std::to_string(seq);
}

bool DecodeHeader(std::string_view bytes, EventHeader* h) {
  ByteReader r(bytes);
  h->timestamp = static_cast<uint32_t>(r.Uint(4));
  h->type = r.U8();
  h->server_id = static_cast<uint32_t>(r.Uint(4));
  h->size = static_cast<uint32_t>(r.Uint(4));
  h->next_pos = static_cast<uint32_t>(r.Uint(4));
  h->flags = static_cast<uint16_t>(r.Uint(2));
  return r.ok();
}

Result<Event> DecodeEvent(std::string_view bytes, FormatInfo* format) {
  Event e;
  if (!DecodeHeader(bytes, &e.header))
    return Status::DataLoss("binlog event shorter than a header");
  const EventHeader& h = e.header;
  if (h.size != bytes.size()) {
    return Status::DataLoss("binlog event of type " + std::to_string(h.type) + " says " +
                            std::to_string(h.size) + " bytes but has " +
                            std::to_string(bytes.size()));
  }
  // A format description says for itself whether it is checksummed.
  bool checksum = format->checksum;
  if (h.type == kFormatDescriptionEvent && bytes.size() > kHeaderSize + 1 + kChecksumSize) {
    checksum = bytes[bytes.size() - 1 - kChecksumSize] == 1;
  }
  if (h.type == kFormatDescriptionEvent) format->checksum = checksum;
  size_t tail = checksum ? kChecksumSize : 0;
  if (bytes.size() < kHeaderSize + tail) return Status::DataLoss("binlog event too short");
  if (checksum && !ChecksumMatches(bytes)) {
    return Status::DataLoss(
        "binlog event of type " + std::to_string(h.type) + " ending at " +
        std::to_string(h.next_pos) + " fails its CRC32 check (" +
        Hex32(static_cast<uint32_t>(ByteReader(bytes.substr(bytes.size() - 4)).Uint(4))) + ")");
  }
  std::string_view body = bytes.substr(kHeaderSize, bytes.size() - kHeaderSize - tail);
  auto decoded = DecodeBody(h, body, format);
  if (!decoded.ok()) return decoded.status();
  e.body = std::move(decoded).value();
  return e;
}

Result<std::vector<Gtid>> ParseGtidList(std::string_view text) {
  std::vector<Gtid> out;
  auto bad = [&] {
    return Status::InvalidArgument("not a GTID list: '" + std::string(text) + "'");
  };
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\n')) item.remove_prefix(1);
    Gtid g;
    const char* p = item.data();
    const char* last = item.data() + item.size();
    auto r1 = std::from_chars(p, last, g.domain);
    if (r1.ec != std::errc() || r1.ptr == last || *r1.ptr != '-') return bad();
    auto r2 = std::from_chars(r1.ptr + 1, last, g.server);
    if (r2.ec != std::errc() || r2.ptr == last || *r2.ptr != '-') return bad();
    auto r3 = std::from_chars(r2.ptr + 1, last, g.seq);
    if (r3.ec != std::errc() || r3.ptr != last) return bad();
    out.push_back(g);
    start = end + 1;
  }
  return out;
}

std::string GtidListText(const std::vector<Gtid>& gtids) {
  std::string out;
  for (const Gtid& g : gtids) {
    if (!out.empty()) out += ',';
    out += g.ToString();
  }
  return out;
}

}  // namespace sluice::mariadb
