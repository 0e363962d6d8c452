#include "connectors/postgres/replication_stream.h"

#include <poll.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "connectors/postgres/wire.h"

namespace sluice::pg {

namespace {

constexpr int64_t kPgEpochOffsetUs = 946684800LL * 1000000LL;

void PutU64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

}  // namespace

int64_t PgEpochNowUs() {
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return now - kPgEpochOffsetUs;
}

ReplicationStream::~ReplicationStream() {
  if (buffer_) PQfreemem(buffer_);
}

Status ReplicationStream::Start(const std::string& slot, const std::string& publication, Lsn start,
                                int proto_version) {
  std::string sql = "START_REPLICATION SLOT " + conn_.Ident(slot) + " LOGICAL " + start.ToString() +
                    " (proto_version '" + std::to_string(proto_version) + "', publication_names " +
                    conn_.Literal(conn_.Ident(publication)) + ")";
  ResultPtr r(PQexec(conn_.get(), sql.c_str()));
  if (!r || PQresultStatus(r.get()) != PGRES_COPY_BOTH) {
    return ToStatus(conn_.get(), r.get(), "START_REPLICATION of slot " + slot);
  }
  return Status::Ok();
}

Result<StreamMessage> ReplicationStream::Parse(const char* data, int n) const {
  StreamMessage m;
  m.type = data[0];
  if (m.type == 'w' && n >= 25) {
    m.wal_start = Lsn(ReadBigEndian(data + 1, 8));
    m.wal_end = Lsn(ReadBigEndian(data + 9, 8));
    m.payload = std::string_view(data + 25, static_cast<size_t>(n - 25));
    return m;
  }
  if (m.type == 'k' && n >= 18) {
    m.wal_end = Lsn(ReadBigEndian(data + 1, 8));
    m.reply_requested = data[17] != 0;
    return m;
  }
  return Status::Internal("unexpected replication message '" + std::string(1, m.type) + "' of " +
                          std::to_string(n) + " bytes");
}

Result<int> ReplicationStream::Take() {
  if (buffer_) {
    PQfreemem(buffer_);
    buffer_ = nullptr;
  }
  int n = PQgetCopyData(conn_.get(), &buffer_, 1);
  if (n == -1) {
    ResultPtr r(PQgetResult(conn_.get()));
    return Status::Unavailable("replication stream ended by the server: " +
                               std::string(PQerrorMessage(conn_.get())));
  }
  if (n == -2) return ToStatus(conn_.get(), nullptr, "reading the replication stream");
  return n;
}

Result<std::optional<StreamMessage>> ReplicationStream::Next(std::chrono::milliseconds timeout,
                                                             std::chrono::microseconds gather) {
  if (!ahead_.empty()) {
    current_ = std::move(ahead_.front());
    ahead_.pop_front();
    ahead_bytes_ -= current_.size();
    auto m = Parse(current_.data(), static_cast<int>(current_.size()));
    if (!m.ok()) return m.status();
    return std::optional<StreamMessage>(*m);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool read_socket = false;  // read what the socket holds at least once, even with no timeout
  while (true) {
    auto n = Take();
    if (!n.ok()) return n.status();
    if (*n > 0) {
      auto m = Parse(buffer_, *n);
      if (!m.ok()) return m.status();
      return std::optional<StreamMessage>(*m);
    }
    // No whole message buffered. Take what already arrived without waiting, so a caller
    // polling with no timeout sees the data the socket holds, not only libpq's buffer.
    if (!read_socket) {
      read_socket = true;
      if (PQconsumeInput(conn_.get()) == 0) {
        return ToStatus(conn_.get(), nullptr, "reading the replication stream");
      }
      continue;
    }
    if (gather.count() > 0 && gather < timeout) {
      std::this_thread::sleep_for(gather);
      gather = {};
      read_socket = false;
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<StreamMessage>();
    pollfd pfd{PQsocket(conn_.get()), POLLIN, 0};
    int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) return Status::Unavailable("poll on replication socket failed");
    if (PQconsumeInput(conn_.get()) == 0) {
      return ToStatus(conn_.get(), nullptr, "reading the replication stream");
    }
  }
}

Status ReplicationStream::ReadAhead(size_t budget, Lsn* wal_end, bool* reply_requested) {
  bool read_socket = false;
  while (ahead_bytes_ < budget) {
    auto n = Take();
    if (!n.ok()) return n.status();
    if (*n == 0) {
      if (read_socket) return Status::Ok();
      read_socket = true;
      if (PQconsumeInput(conn_.get()) == 0) {
        return ToStatus(conn_.get(), nullptr, "reading the replication stream");
      }
      continue;
    }
    auto m = Parse(buffer_, *n);
    if (!m.ok()) return m.status();
    if (m->wal_end > *wal_end) *wal_end = m->wal_end;
    if (m->type == 'k') {
      *reply_requested = *reply_requested || m->reply_requested;
      continue;
    }
    ahead_.emplace_back(buffer_, static_cast<size_t>(*n));
    ahead_bytes_ += static_cast<size_t>(*n);
    read_socket = false;  // more may have arrived meanwhile
  }
  return Status::Ok();
}

Status ReplicationStream::SendStatus(Lsn write, Lsn flush, bool reply_requested) {
  char msg[34];
  msg[0] = 'r';
  PutU64(msg + 1, write.value());
  PutU64(msg + 9, flush.value());
  PutU64(msg + 17, flush.value());
  PutU64(msg + 25, static_cast<uint64_t>(PgEpochNowUs()));
  msg[33] = reply_requested ? 1 : 0;
  if (PQputCopyData(conn_.get(), msg, sizeof(msg)) != 1 || PQflush(conn_.get()) != 0) {
    return ToStatus(conn_.get(), nullptr, "sending standby status update");
  }
  return Status::Ok();
}

}  // namespace sluice::pg
