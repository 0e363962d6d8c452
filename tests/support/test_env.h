// Test support: the servers scripts/test starts, reached through environment variables.
// A test that cannot reach its server fails with a message saying how to start it.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sluice::test {

// The value of an environment variable scripts/test sets; fails the test when unset.
std::string RequireEnv(const char* name);

// A database of the test PostgreSQL, created fresh (dropped first) for one test.
class TestDb {
 public:
  // On the server whose port is in environment variable `port_env` (the main test server
  // unless told).
  explicit TestDb(const std::string& name, const char* port_env = "SLUICE_TEST_PG_PORT");
  ~TestDb();
  // libpq conninfo for this database.
  std::string Dsn() const;
  // Runs SQL (several statements allowed); fails the test on error.
  void Exec(const std::string& sql);
  // Runs SQL; returns the error message, empty on success.
  std::string TryExec(const std::string& sql);
  // Rows of a query, every value as text ("NULL" for NULL).
  std::vector<std::vector<std::string>> Query(const std::string& sql);
  const std::string& name() const { return name_; }

  static std::string ServerDsn(const std::string& db, const char* port_env = "SLUICE_TEST_PG_PORT");
  // Opens a new connection (after a server restart killed the old one).
  static void Reconnect(TestDb& db);

 private:
  std::string name_;
  const char* port_env_;
  PGconn* conn_ = nullptr;
};

// Polls `cond` every 20 ms until it holds or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

// A scratch directory for one test, removed at destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);
// Number of complete lines in a file (cheap enough to poll).
size_t CountLines(const std::string& path);

// The binary under test: the build's, or $SLUICE_TEST_BINARY (to run the tests against
// another build, for example the one before a fix).
std::string SluiceBinary();

// A sluice process (the binary under test), output captured to files.
class SluiceProcess {
 public:
  // `wrapper`: a command that runs sluice (its arguments follow the wrapper's), such as
  // PrivateTmpfs::Enter() (support/private_tmpfs.h).
  SluiceProcess(std::vector<std::string> args, const std::string& out_path,
                const std::string& err_path, std::map<std::string, std::string> env = {},
                std::vector<std::string> wrapper = {});
  ~SluiceProcess();  // SIGKILLs a process still running
  void Signal(int sig);
  // Waits for exit up to `timeout`; returns the exit code, or -1 if still running
  // (-signal if killed by a signal).
  int Wait(std::chrono::milliseconds timeout);
  bool Running();
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

// Runs sluice to completion and returns its exit code; output to the given files.
int RunSluice(const std::vector<std::string>& args, const std::string& out_path,
              const std::string& err_path, std::chrono::milliseconds timeout);

}  // namespace sluice::test
