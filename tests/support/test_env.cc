#include "support/test_env.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::test {

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    FAIL(std::string(name) +
         " is not set: integration tests need the servers that scripts/test starts. "
         "Run them with `scripts/test` (or `scripts/test -L integration`).");
  }
  return v;
}

std::string SluiceBinary() {
  const char* other = std::getenv("SLUICE_TEST_BINARY");
  return other != nullptr && *other != '\0' ? other : SLUICE_BINARY;
}

std::string TestDb::ServerDsn(const std::string& db, const char* port_env) {
  return "host=" + RequireEnv("SLUICE_TEST_PG_HOST") + " port=" + RequireEnv(port_env) +
         " user=" + RequireEnv("SLUICE_TEST_PG_USER") + " dbname=" + db;
}

namespace {
PGconn* ConnectOrFail(const std::string& dsn) {
  PGconn* c = PQconnectdb(dsn.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    FAIL("cannot reach the test PostgreSQL (" + dsn + "): " + msg +
         " -- start it with scripts/test, which sets SLUICE_TEST_PG_*");
  }
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return c;
}
}  // namespace

TestDb::TestDb(const std::string& name, const char* port_env) : name_(name), port_env_(port_env) {
  PGconn* admin = ConnectOrFail(ServerDsn("postgres", port_env_));
  // Leftovers from an earlier run: their slots pin the database, so drop them first.
  std::string sql =
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" +
      name + "' AND NOT active";
  PQclear(PQexec(admin, sql.c_str()));
  PQclear(PQexec(admin, ("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").c_str()));
  PGresult* r = PQexec(admin, ("CREATE DATABASE " + name).c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string err = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(admin);
  if (!ok) FAIL("CREATE DATABASE " + name + ": " + err);
  conn_ = ConnectOrFail(Dsn());
}

TestDb::~TestDb() {
  if (conn_) PQfinish(conn_);
  PGconn* admin = PQconnectdb(ServerDsn("postgres", port_env_).c_str());
  if (PQstatus(admin) == CONNECTION_OK) {
    std::string sql =
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" +
        name_ + "' AND NOT active";
    PQclear(PQexec(admin, sql.c_str()));
    PQclear(PQexec(admin, ("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)").c_str()));
  }
  PQfinish(admin);
}

void TestDb::Reconnect(TestDb& db) {
  if (db.conn_) PQfinish(db.conn_);
  db.conn_ = ConnectOrFail(db.Dsn());
}

std::string TestDb::Dsn() const { return ServerDsn(name_, port_env_); }

std::string TestDb::TryExec(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  ExecStatusType st = PQresultStatus(r);
  std::string err =
      (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? "" : PQresultErrorMessage(r);
  PQclear(r);
  if (!err.empty() && PQstatus(conn_) == CONNECTION_BAD) PQreset(conn_);
  return err;
}

void TestDb::Exec(const std::string& sql) {
  std::string err = TryExec(sql);
  if (!err.empty()) FAIL("SQL failed: " + sql + "\n" + err);
}

std::vector<std::vector<std::string>> TestDb::Query(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    std::string err = PQresultErrorMessage(r);
    PQclear(r);
    FAIL("query failed: " + sql + "\n" + err);
  }
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < PQntuples(r); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(r); ++j) {
      row.push_back(PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j));
    }
    rows.push_back(std::move(row));
  }
  PQclear(r);
  return rows;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

TempDir::TempDir(const std::string& prefix) {
  std::string base = std::getenv("SLUICE_TEST_TMP") ? std::getenv("SLUICE_TEST_TMP") : "/tmp";
  std::string tmpl = base + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  REQUIRE(mkdtemp(buf.data()) != nullptr);
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  REQUIRE(out.good());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t CountLines(const std::string& path) {
  std::string text = ReadFile(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

SluiceProcess::SluiceProcess(std::vector<std::string> args, const std::string& out_path,
                             const std::string& err_path, std::map<std::string, std::string> env,
                             std::vector<std::string> wrapper) {
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    FILE* out = std::freopen(out_path.c_str(), "a", stdout);
    FILE* err = std::freopen(err_path.c_str(), "a", stderr);
    if (!out || !err) _exit(127);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    std::string bin = SluiceBinary();
    for (auto& w : wrapper) argv.push_back(w.data());
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
}

SluiceProcess::~SluiceProcess() {
  if (Running()) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

void SluiceProcess::Signal(int sig) {
  if (Running()) kill(pid_, sig);
}

bool SluiceProcess::Running() {
  if (exited_ || pid_ <= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    status_ = st;
    return false;
  }
  return true;
}

int SluiceProcess::Wait(std::chrono::milliseconds timeout) {
  WaitFor([&] { return !Running(); }, timeout);
  if (!exited_) return -1;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return -WTERMSIG(status_);
  return -1;
}

int RunSluice(const std::vector<std::string>& args, const std::string& out_path,
              const std::string& err_path, std::chrono::milliseconds timeout) {
  SluiceProcess p(args, out_path, err_path);
  int code = p.Wait(timeout);
  return code;
}

}  // namespace sluice::test
