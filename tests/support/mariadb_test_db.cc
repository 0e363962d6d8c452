#include "support/mariadb_test_db.h"

#include <catch2/catch.hpp>

#include "support/test_env.h"

namespace sluice::test {

std::string TestMariaDb::Host() { return RequireEnv("SLUICE_TEST_MARIADB_HOST"); }
int TestMariaDb::Port() { return std::stoi(RequireEnv("SLUICE_TEST_MARIADB_PORT")); }
std::string TestMariaDb::User() { return RequireEnv("SLUICE_TEST_MARIADB_USER"); }

MYSQL* TestMariaDb::Connect(const std::string& db) {
  MYSQL* c = mysql_init(nullptr);
  REQUIRE(c != nullptr);
  unsigned int timeout = 10;
  mysql_optionsv(c, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (!mysql_real_connect(c, Host().c_str(), User().c_str(), nullptr,
                          db.empty() ? nullptr : db.c_str(), static_cast<unsigned>(Port()), nullptr,
                          CLIENT_MULTI_STATEMENTS)) {
    std::string msg = mysql_error(c);
    mysql_close(c);
    FAIL("cannot reach the test MariaDB (" + Host() + ":" + std::to_string(Port()) + "): " + msg +
         " -- start it with scripts/test, which sets SLUICE_TEST_MARIADB_*");
  }
  return c;
}

namespace {
// Runs `sql` on `c`, draining every result of a multi-statement; the first error or "".
std::string Run(MYSQL* c, const std::string& sql) {
  if (mysql_real_query(c, sql.data(), sql.size()) != 0) return mysql_error(c);
  while (true) {
    MYSQL_RES* r = mysql_store_result(c);
    if (r != nullptr) mysql_free_result(r);
    int next = mysql_next_result(c);
    if (next > 0) return mysql_error(c);
    if (next < 0) return "";
  }
}
}  // namespace

TestMariaDb::TestMariaDb(const std::string& name) : name_(name) {
  MYSQL* admin = Connect("");
  std::string err = Run(admin, "DROP DATABASE IF EXISTS `" + name + "`; CREATE DATABASE `" + name +
                                   "` CHARACTER SET utf8mb4");
  mysql_close(admin);
  if (!err.empty()) FAIL("CREATE DATABASE " + name + ": " + err);
  conn_ = Connect(name_);
}

TestMariaDb::~TestMariaDb() {
  if (conn_) mysql_close(conn_);
  MYSQL* admin = mysql_init(nullptr);
  if (mysql_real_connect(admin, Host().c_str(), User().c_str(), nullptr, nullptr,
                         static_cast<unsigned>(Port()), nullptr, 0)) {
    (void)Run(admin, "DROP DATABASE IF EXISTS `" + name_ + "`");
  }
  mysql_close(admin);
}

std::string TestMariaDb::Dsn() const {
  return "host=" + Host() + " port=" + std::to_string(Port()) + " user=" + User() +
         " database=" + name_;
}

void TestMariaDb::Reconnect() {
  if (conn_) mysql_close(conn_);
  conn_ = Connect(name_);
}

void TestMariaDb::Exec(const std::string& sql) {
  std::string err = Run(conn_, sql);
  if (!err.empty()) FAIL("MariaDB: " + sql + ": " + err);
}

std::string TestMariaDb::TryExec(const std::string& sql) { return Run(conn_, sql); }

std::vector<std::vector<std::string>> TestMariaDb::Query(const std::string& sql) {
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) {
    FAIL("MariaDB: " + sql + ": " + mysql_error(conn_));
  }
  MYSQL_RES* r = mysql_store_result(conn_);
  std::vector<std::vector<std::string>> rows;
  if (r == nullptr) return rows;
  unsigned n = mysql_num_fields(r);
  while (MYSQL_ROW row = mysql_fetch_row(r)) {
    unsigned long* lengths = mysql_fetch_lengths(r);
    std::vector<std::string> out;
    for (unsigned i = 0; i < n; ++i) {
      out.push_back(row[i] ? std::string(row[i], lengths[i]) : std::string("NULL"));
    }
    rows.push_back(std::move(out));
  }
  mysql_free_result(r);
  return rows;
}

std::string TestMariaDb::Scalar(const std::string& sql) {
  auto rows = Query(sql);
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].size() == 1);
  return rows[0][0];
}

}  // namespace sluice::test
