// MyConn: one Connector/C connection (MYSQL*) with sluice's session settings, and the one
// ToStatus of Connector/C. Also the `dsn` option: "host=H port=P user=U password=W
// database=D" (space-separated key=value; a value may be 'single quoted').
#pragma once

#include <mysql.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::mariadb {

struct Dsn {
  std::string host = "127.0.0.1";
  unsigned port = 3306;
  std::string user;
  std::string password;
  std::string database;
  // "host=H port=P user=U database=D": for messages; the password is left out.
  std::string Describe() const;
};
// InvalidArgument on an unknown key or a malformed value.
Result<Dsn> ParseDsn(const std::string& text);
// OptionSpec::secrets of `dsn`: its password.
Result<std::vector<std::string>> DsnSecrets(const std::string& text);

// The error of the last call on `c` as a Status: Unavailable for lost or refused
// connections (CR_* client errors, server shutdown), DataLoss for a binary log position
// the server no longer has (1236), FailedPrecondition for access errors, Internal otherwise.
// `what` says what was being done.
Status ToStatus(MYSQL* c, const std::string& what);

// One result row: each value nullopt for NULL.
using TextRow = std::vector<std::optional<std::string>>;

// Owns one connection; not thread-safe.
class MyConn {
 public:
  // Connects with the session sluice reads in: utf8mb4, time_zone '+00:00', and a read
  // timeout of `read_timeout_s` (0: none).
  static Result<MyConn> Connect(const Dsn& dsn, unsigned read_timeout_s = 0);
  MyConn() = default;
  MyConn(MyConn&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
  MyConn& operator=(MyConn&& o) noexcept;
  ~MyConn();

  Status Exec(const std::string& sql);
  Result<std::vector<TextRow>> Query(const std::string& sql);
  // The one value of a one-row query (nullopt: NULL or no row).
  Result<std::optional<std::string>> Scalar(const std::string& sql);
  // 'text' as an SQL string literal, escaped for this connection.
  std::string Quote(std::string_view text);
  MYSQL* get() const { return c_; }

 private:
  explicit MyConn(MYSQL* c) : c_(c) {}
  MYSQL* c_ = nullptr;
};

// `name` as a quoted identifier: `a``b`.
std::string QuoteIdent(std::string_view name);

}  // namespace sluice::mariadb
