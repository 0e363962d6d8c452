// HttpServerLimits: what bounds the HTTP server's connections and requests, so that no peer
// can hold the endpoints (and the liveness probe) hostage with idle or slow connections.
#pragma once

#include <chrono>
#include <cstddef>

namespace sluice {

struct HttpServerLimits {
  // Connections open at once. A new one beyond it closes the connection that has waited
  // longest for its request (idle or half-sent); when every one has a request being
  // answered, the new one gets a 503 and is closed.
  size_t max_connections = 256;
  // A request must arrive whole (headers and body) within this time of its first byte, and
  // its answer be taken by the client within this time. Never restarted by progress.
  std::chrono::milliseconds request_timeout{5000};
  // A connection with no request in progress (just accepted, or between keep-alive
  // requests) is closed after this time.
  std::chrono::milliseconds idle_timeout{10000};
  size_t max_header_bytes = 16 << 10;  // request line and headers; beyond: 431
  size_t max_body_bytes = 64 << 10;    // Content-Length beyond it: 413
  bool operator==(const HttpServerLimits&) const = default;
};

}  // namespace sluice
