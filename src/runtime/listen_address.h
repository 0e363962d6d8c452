// Listen addresses: `http.listen` (HOST:PORT) split, resolved with getaddrinfo, and the
// loopback rule that decides whether the endpoints need a token. Loopback is decided on
// resolved addresses, never on the text: "127.evil.example" is a name like any other.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "core/status.h"

namespace sluice {

struct ListenSpec {
  std::string host;  // without the brackets of "[::1]"
  int port = 0;      // 0..65535; 0 picks a free port
};

// Splits "HOST:PORT", "[V6]:PORT" (and, as before, "::1:PORT" at the last colon).
// InvalidArgument when the port is missing or out of range, or the host is empty.
Result<ListenSpec> ParseListen(const std::string& listen);

// One socket address (IPv4 or IPv6), as getaddrinfo, accept or getsockname give it.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  int port() const;
  // "127.0.0.1:8080", "[::1]:8080".
  std::string ToString() const;
  // 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104 (IPv4-mapped).
  bool IsLoopback() const;
};

// Every TCP address `spec.host` resolves to, with `spec.port`, in getaddrinfo's order
// (numeric hosts need no lookup). InvalidArgument naming the host when it does not resolve;
// Unavailable on a temporary failure of the resolver.
Result<std::vector<SocketAddress>> ResolveListen(const ListenSpec& spec);

// True when `addresses` is not empty and every one of them is loopback.
bool AllLoopback(const std::vector<SocketAddress>& addresses);

// The local address a socket is bound to (getsockname).
Result<SocketAddress> BoundAddress(int fd);

}  // namespace sluice
