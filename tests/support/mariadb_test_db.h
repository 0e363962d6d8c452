// Test support: a database of the throwaway MariaDB that scripts/test starts
// (SLUICE_TEST_MARIADB_*), created fresh for one test, and queries against it.
#pragma once

#include <mysql.h>

#include <string>
#include <vector>

namespace sluice::test {

// Owns one connection (root, over TCP) and the database `name`, dropped first and at
// destruction. Used from one thread.
class TestMariaDb {
 public:
  explicit TestMariaDb(const std::string& name);
  ~TestMariaDb();
  TestMariaDb(const TestMariaDb&) = delete;
  TestMariaDb& operator=(const TestMariaDb&) = delete;

  // Runs SQL (several statements allowed, results discarded); fails the test on error.
  void Exec(const std::string& sql);
  // Runs SQL; returns the error message, empty on success.
  std::string TryExec(const std::string& sql);
  // Rows of one query, every value as text ("NULL" for NULL).
  std::vector<std::vector<std::string>> Query(const std::string& sql);
  // The one value of a one-row, one-column query.
  std::string Scalar(const std::string& sql);
  // Opens a new connection (after a server restart killed the old one).
  void Reconnect();

  const std::string& name() const { return name_; }
  // "host=127.0.0.1 port=N user=root database=NAME": the sluice `dsn` for this database.
  std::string Dsn() const;
  static std::string Host();
  static int Port();
  static std::string User();

 private:
  // A connection to `db` (empty: none), failing the test when it cannot be had.
  static MYSQL* Connect(const std::string& db);

  std::string name_;
  MYSQL* conn_ = nullptr;
};

}  // namespace sluice::test
