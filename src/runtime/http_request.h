// HttpRequest and HttpRequestParser: HTTP/1.0 and 1.1 requests read from a byte stream,
// incrementally (bytes may arrive one at a time) and pipelined (several requests in one
// read). Pure: no sockets, no clock; the server around it applies the deadlines.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/http_limits.h"

namespace sluice {

struct HttpRequest {
  std::string method;     // as sent ("GET", "POST"); methods are case-sensitive
  std::string target;     // the request-target as sent: "/wait?pipeline=a&lsn=0%2F10"
  std::string path;       // its path, percent-decoded: "/wait"
  std::string query;      // its query, raw: "pipeline=a&lsn=0%2F10"
  int minor_version = 1;  // HTTP/1.0 or HTTP/1.1
  std::vector<std::pair<std::string, std::string>> headers;  // in order, values trimmed
  std::string body;                                          // Content-Length bytes
  // Whether the connection stays open after the answer: HTTP/1.1 unless "Connection: close",
  // HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive = true;

  // The first header of that name (case-insensitive); empty when absent.
  std::string Header(std::string_view name) const;
  // The first query parameter of that name, decoded ('+' is a space); nullopt when absent.
  std::optional<std::string> Param(std::string_view name) const;
};

// Splits "a=1&b=x%20y" into decoded pairs ("a", "1"), ("b", "x y"). A malformed escape is
// kept as written.
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);

// Reads one request at a time from the front of a buffer that grows as bytes arrive.
// Not thread-safe; one per connection. Work is linear in the bytes seen: each call scans
// only what the previous calls did not.
class HttpRequestParser {
 public:
  enum class State {
    kNeedMore,  // the request is not complete yet
    kDone,      // request() is complete; consumed() bytes of the buffer were it
    kError,     // malformed or too large: answer error_status() and close
  };

  explicit HttpRequestParser(const HttpServerLimits& limits) : limits_(limits) {}

  // `buffer` starts at the first byte of this request and holds every byte received since
  // (the previous call's bytes plus new ones). After kDone or kError call Reset() before
  // the next request.
  State Parse(std::string_view buffer);
  void Reset();

  const HttpRequest& request() const { return request_; }
  HttpRequest TakeRequest() { return std::move(request_); }
  size_t consumed() const { return consumed_; }
  // Whether any byte of the request has arrived (leading empty lines do not count).
  bool started() const { return started_; }
  // Headers are complete and the client waits for "100 Continue" before the body.
  bool expects_continue() const { return expects_continue_; }
  int error_status() const { return error_status_; }  // 400, 413, 414, 431, 501, 505
  const std::string& error_message() const { return error_message_; }

 private:
  State Fail(int status, std::string message);
  State ParseHead(std::string_view head);
  State ParseRequestLine(std::string_view line);
  State ParseHeaderLine(std::string_view line);
  State CheckFraming();

  HttpServerLimits limits_;
  HttpRequest request_;
  size_t skipped_ = 0;     // empty lines before the request line
  size_t scanned_ = 0;     // bytes searched for the end of the head so far
  size_t line_start_ = 0;  // where the line being scanned starts
  size_t head_bytes_ = 0;  // request line and headers with their final empty line; 0: not yet
  size_t body_bytes_ = 0;  // Content-Length
  size_t consumed_ = 0;
  bool started_ = false;
  bool expects_continue_ = false;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace sluice
