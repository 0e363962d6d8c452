#include "support/own_redis.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "sinks/redis/redis_client.h"
#include "support/test_env.h"

namespace sluice::test {

OwnRedis::OwnRedis(const std::string& dir) : dir_(dir) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  port_ = ntohs(addr.sin_port);
  ::close(s);
  Start();
}

OwnRedis::~OwnRedis() { Kill(); }

void OwnRedis::Start() {
  pid_ = ::fork();
  if (pid_ == 0) {
    std::string port = std::to_string(port_);
    ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir_.c_str(),
             "--logfile", (dir_ + "/redis.log").c_str(), nullptr);
    ::_exit(127);
  }
  auto url = redis::RedisUrl::Parse(Url(0));
  REQUIRE(url.ok());
  REQUIRE(WaitFor(
      [&] {
        redis::RedisClient c(url.value(), std::chrono::milliseconds(2000),
                             std::chrono::milliseconds(2000));
        return c.Connect().ok() && c.Command({"PING"}).ok();
      },
      std::chrono::seconds(20)));
}

void OwnRedis::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void OwnRedis::Stall() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void OwnRedis::Resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

std::string OwnRedis::Url(int db) const {
  auto u = redis::RedisUrl::Parse(RequireEnv("SLUICE_TEST_REDIS_URL"));
  REQUIRE(u.ok());
  redis::RedisUrl url = u.value();
  url.db = db;
  url.port = port_;
  return url.ToString();
}

}  // namespace sluice::test
