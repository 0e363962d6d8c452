// RawHttp: a TCP client on loopback that sends exactly the bytes a test chooses (half a
// request, a byte at a time, nothing at all) and reads answers with a deadline, for the
// tests of the HTTP server's parsing, deadlines and limits.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace sluice::test {

struct RawAnswer {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  // The header's value (name matched case-insensitively); empty when absent.
  std::string Header(const std::string& name) const;
};

// One connection to 127.0.0.1:`port`, closed at destruction. Not thread-safe.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends all of `bytes`; false when the server has closed the connection.
  bool Send(const std::string& bytes);
  // The next complete answer (framed by Content-Length; bodies of HEAD answers are not
  // read), or nullopt when none arrives within `timeout` or the connection ends first.
  std::optional<RawAnswer> Read(std::chrono::milliseconds timeout, bool head = false);
  // Waits up to `timeout` for the server to close the connection, dropping what it sends
  // first (kept in dropped()). True when it closed.
  bool WaitClosed(std::chrono::milliseconds timeout);
  // Whether the server has closed the connection, without waiting.
  bool Closed() { return WaitClosed(std::chrono::milliseconds(0)); }
  const std::string& dropped() const { return dropped_; }
  void Close();

 private:
  // Reads what is there within `timeout` into buffer_; false on end of input or error.
  bool Fill(std::chrono::milliseconds timeout);

  int fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
  std::string dropped_;
};

}  // namespace sluice::test
