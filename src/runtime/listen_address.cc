#include "runtime/listen_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

namespace sluice {

namespace {

// getaddrinfo's codes as a Status: the one place they are mapped.
Status ToStatus(int rc, const std::string& host) {
  const std::string what = "host '" + host + "' ";
  switch (rc) {
    case EAI_AGAIN:
      return Status::Unavailable(what + "cannot be resolved now (" + gai_strerror(rc) + ")");
    case EAI_SYSTEM:
      return Status::Unavailable(what + "cannot be resolved: " + std::strerror(errno));
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
      return Status::InvalidArgument(what + "does not resolve to an address (" + gai_strerror(rc) +
                                     ")");
    default:
      return Status::InvalidArgument(what + "cannot be resolved (" + gai_strerror(rc) + ")");
  }
}

struct AddrInfoFree {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};

}  // namespace

Result<ListenSpec> ParseListen(const std::string& listen) {
  const Status bad = Status::InvalidArgument(
      "'listen' expects HOST:PORT such as 127.0.0.1:8080, got '" + listen + "'");
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad;
  ListenSpec spec;
  spec.host = listen.substr(0, colon);
  if (spec.host.front() == '[') {
    if (spec.host.size() < 3 || spec.host.back() != ']') return bad;
    spec.host = spec.host.substr(1, spec.host.size() - 2);
  }
  const char* first = listen.data() + colon + 1;
  const char* last = listen.data() + listen.size();
  auto [end, ec] = std::from_chars(first, last, spec.port);
  if (first == last || ec != std::errc() || end != last || spec.port < 0 || spec.port > 65535) {
    return bad;
  }
  return spec;
}

int SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {0};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text,
              sizeof text);
    return std::string(text) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
              sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(port());
  }
  return "(address family " + std::to_string(family()) + ")";
}

bool SocketAddress::IsLoopback() const {
  if (family() == AF_INET) {
    uint32_t ip = ntohl(reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr);
    return (ip >> 24) == 127;
  }
  if (family() == AF_INET6) {
    const in6_addr& ip = reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&ip)) return true;
    return IN6_IS_ADDR_V4MAPPED(&ip) && ip.s6_addr[12] == 127;
  }
  return false;
}

Result<std::vector<SocketAddress>> ResolveListen(const ListenSpec& spec) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // No AI_ADDRCONFIG: it would hide ::1 on a machine without a global IPv6 address.
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* raw = nullptr;
  const std::string port = std::to_string(spec.port);
  int rc = getaddrinfo(spec.host.c_str(), port.c_str(), &hints, &raw);
  if (rc != 0) return ToStatus(rc, spec.host);
  std::unique_ptr<addrinfo, AddrInfoFree> list(raw);
  std::vector<SocketAddress> out;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    out.push_back(a);
  }
  if (out.empty()) {
    return Status::InvalidArgument("host '" + spec.host + "' has no IPv4 or IPv6 address");
  }
  return out;
}

bool AllLoopback(const std::vector<SocketAddress>& addresses) {
  if (addresses.empty()) return false;
  for (const SocketAddress& a : addresses) {
    if (!a.IsLoopback()) return false;
  }
  return true;
}

Result<SocketAddress> BoundAddress(int fd) {
  SocketAddress a;
  a.length = sizeof a.storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length) != 0) {
    return Status::Internal(std::string("getsockname: ") + std::strerror(errno));
  }
  return a;
}

}  // namespace sluice
