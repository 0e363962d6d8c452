#include "runtime/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <catch2/catch.hpp>

namespace sluice {
namespace {

SocketAddress V4(const char* ip) {
  SocketAddress a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  in->sin_family = AF_INET;
  REQUIRE(inet_pton(AF_INET, ip, &in->sin_addr) == 1);
  a.length = sizeof *in;
  return a;
}

SocketAddress V6(const char* ip) {
  SocketAddress a;
  auto* in = reinterpret_cast<sockaddr_in6*>(&a.storage);
  in->sin6_family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, ip, &in->sin6_addr) == 1);
  a.length = sizeof *in;
  return a;
}

}  // namespace

TEST_CASE("ListenAddress: HOST:PORT is split, brackets removed", "[unit][http]") {
  Result<ListenSpec> v4 = ParseListen("127.0.0.1:8080");
  REQUIRE(v4.ok());
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 8080);
  Result<ListenSpec> v6 = ParseListen("[::1]:0");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 0);
  CHECK(ParseListen("::1:9").ok());
  for (const char* bad :
       {"localhost", ":8080", "a:", "a:65536", "a:-1", "a:8o", "[::1:80", "[]:80"}) {
    INFO(bad);
    Result<ListenSpec> r = ParseListen(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("expects HOST:PORT") != std::string::npos);
  }
}

TEST_CASE("ListenAddress: loopback is 127.0.0.0/8 and ::1, decided on the address",
          "[unit][http]") {
  CHECK(V4("127.0.0.1").IsLoopback());
  CHECK(V4("127.255.3.4").IsLoopback());
  CHECK(V6("::1").IsLoopback());
  CHECK(V6("::ffff:127.0.0.1").IsLoopback());
  CHECK_FALSE(V4("0.0.0.0").IsLoopback());
  CHECK_FALSE(V4("128.0.0.1").IsLoopback());
  CHECK_FALSE(V4("10.0.0.5").IsLoopback());
  CHECK_FALSE(V6("::").IsLoopback());
  CHECK_FALSE(V6("::ffff:10.0.0.1").IsLoopback());
  CHECK_FALSE(V6("fe80::1").IsLoopback());
  CHECK(AllLoopback({V4("127.0.0.1"), V6("::1")}));
  CHECK_FALSE(AllLoopback({V4("127.0.0.1"), V4("10.0.0.5")}));
  CHECK_FALSE(AllLoopback({}));
  CHECK(V4("127.0.0.1").ToString() == "127.0.0.1:0");
  CHECK(V6("::1").ToString() == "[::1]:0");
}

TEST_CASE("ListenAddress: names are resolved, not read", "[unit][http]") {
  Result<std::vector<SocketAddress>> local = ResolveListen({"localhost", 8080});
  REQUIRE(local.ok());
  CHECK(AllLoopback(*local));
  CHECK(local->front().port() == 8080);
  Result<std::vector<SocketAddress>> numeric = ResolveListen({"127.0.0.1", 1});
  REQUIRE(numeric.ok());
  REQUIRE(numeric->size() == 1);
  CHECK(numeric->front().ToString() == "127.0.0.1:1");
  Result<std::vector<SocketAddress>> any = ResolveListen({"0.0.0.0", 1});
  REQUIRE(any.ok());
  CHECK_FALSE(AllLoopback(*any));
  // .example names never resolve (RFC 2606): a text prefix of "127." makes no difference.
  Result<std::vector<SocketAddress>> evil = ResolveListen({"127.evil.example", 8080});
  REQUIRE_FALSE(evil.ok());
  CHECK(evil.status().message().find("host '127.evil.example' ") == 0);
}

}  // namespace sluice
