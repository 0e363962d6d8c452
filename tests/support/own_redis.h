// OwnRedis: a redis-server of the test's own on a free loopback port, with an append-only
// file fsynced on every write, so that it can be killed, stalled and restarted without
// losing what it acknowledged.
#pragma once

#include <sys/types.h>

#include <string>

namespace sluice::test {

class OwnRedis {
 public:
  // Starts it with its files in `dir`; fails the test if it does not answer PING.
  explicit OwnRedis(const std::string& dir);
  ~OwnRedis();  // kills it
  OwnRedis(const OwnRedis&) = delete;
  OwnRedis& operator=(const OwnRedis&) = delete;

  void Start();   // again, on the same port, after Kill()
  void Kill();    // SIGKILL
  void Stall();   // SIGSTOP: connections stay open, nothing is answered
  void Resume();  // SIGCONT
  // redis://[credentials of SLUICE_TEST_REDIS_URL]@127.0.0.1:PORT/db
  std::string Url(int db) const;

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sluice::test
