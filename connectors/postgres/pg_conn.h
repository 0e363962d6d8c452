// PgConn: RAII over libpq's PGconn and PGresult, and ToStatus(), the one place where
// libpq errors become a Status.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sluice::pg {

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Maps a failed command to a Status by SQLSTATE: connection problems and shutdowns are
// Unavailable (retry), a missing object NotFound, privilege and configuration problems
// InvalidArgument (fix and restart), the rest Internal. `what` names the command.
Status ToStatus(PGconn* conn, const PGresult* result, std::string_view what);

// One connection; used by one thread at a time.
class PgConn {
 public:
  // Connects with our session settings (pg::kSessionOptions) added. `replication` opens a
  // logical replication connection (replication=database).
  static Result<PgConn> Connect(const std::string& dsn, bool replication);

  // Runs a statement; ok for COMMAND_OK and TUPLES_OK.
  Result<ResultPtr> Exec(const std::string& sql);
  Result<ResultPtr> Exec(const std::string& sql, const std::vector<std::string>& params);

  PGconn* get() const { return conn_.get(); }
  // Quotes for SQL text using the connection's encoding rules.
  std::string Ident(std::string_view name) const;
  std::string Literal(std::string_view text) const;
  int server_version() const { return PQserverVersion(conn_.get()); }

 private:
  explicit PgConn(PGconn* c) : conn_(c) {}
  std::unique_ptr<PGconn, ConnDeleter> conn_;
};

// Field (row, col) as a string ("" for NULL).
std::string GetText(const PGresult* r, int row, int col);
bool IsNull(const PGresult* r, int row, int col);

}  // namespace sluice::pg
