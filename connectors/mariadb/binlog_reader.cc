#include "connectors/mariadb/binlog_reader.h"

#include "connectors/mariadb/binlog_event.h"

namespace sluice::mariadb {

Status BinlogReader::Failed(const std::string& what) {
  Status s = ToStatus(conn_.get(), what);
  if (s.code() == StatusCode::kDataLoss) {
    return Status::DataLoss(
        "the binary log no longer holds what follows GTID position '" + start_ +
        "' (purged?); changes after it are lost to this pipeline: " + s.message());
  }
  return s;
}

Result<std::unique_ptr<BinlogReader>> BinlogReader::Open(MyConn conn, const GtidState& start,
                                                         uint32_t server_id, int heartbeat_ms) {
  std::unique_ptr<BinlogReader> r(new BinlogReader(std::move(conn), start.ToString()));
  MyConn& c = r->conn_;
  SLUICE_RETURN_IF_ERROR(c.Exec("SET @mariadb_slave_capability = 4"));
  SLUICE_RETURN_IF_ERROR(c.Exec("SET @master_binlog_checksum = @@global.binlog_checksum"));
  SLUICE_RETURN_IF_ERROR(c.Exec("SET @slave_connect_state = " + c.Quote(r->start_)));
  SLUICE_RETURN_IF_ERROR(c.Exec("SET @slave_gtid_strict_mode = 1"));
  SLUICE_RETURN_IF_ERROR(
      c.Exec("SET @master_heartbeat_period = " + std::to_string(int64_t{heartbeat_ms} * 1000000)));
  r->rpl_ = mariadb_rpl_init(c.get());
  if (r->rpl_ == nullptr) return Status::Internal("mariadb_rpl_init failed");
  mariadb_rpl_optionsv(r->rpl_, MARIADB_RPL_SERVER_ID, server_id);
  mariadb_rpl_optionsv(r->rpl_, MARIADB_RPL_FILENAME, "", size_t{0});
  mariadb_rpl_optionsv(r->rpl_, MARIADB_RPL_START, 4UL);
  mariadb_rpl_optionsv(r->rpl_, MARIADB_RPL_FLAGS, 0);
  if (mariadb_rpl_open(r->rpl_) != 0) return r->Failed("start the binary log dump");
  return r;
}

BinlogReader::~BinlogReader() {
  if (event_) mariadb_free_rpl_event(event_);
  if (rpl_) mariadb_rpl_close(rpl_);
}

Result<std::string_view> BinlogReader::Next() {
  // A fresh event each time: after a failed fetch the event passed in is not safe to free.
  if (event_) {
    mariadb_free_rpl_event(event_);
    event_ = nullptr;
  }
  MARIADB_RPL_EVENT* e = mariadb_rpl_fetch(rpl_, nullptr);
  if (e == nullptr) {
    if (mysql_errno(conn_.get()) == 0) {
      return Status::Unavailable("the server ended the binary log dump");
    }
    return Failed("read the binary log");
  }
  event_ = e;
  std::string_view raw(reinterpret_cast<const char*>(e->raw_data), e->raw_data_size);
  // Depending on the Connector/C version the buffer starts with the packet's OK byte.
  EventHeader h;
  for (size_t skip : {size_t{0}, size_t{1}}) {
    if (raw.size() > skip && DecodeHeader(raw.substr(skip), &h) && h.size == raw.size() - skip) {
      return raw.substr(skip);
    }
  }
  return Status::DataLoss("a binary log event whose size does not match its header (" +
                          std::to_string(raw.size()) + " bytes)");
}

}  // namespace sluice::mariadb
