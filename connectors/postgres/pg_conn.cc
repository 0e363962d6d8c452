#include "connectors/postgres/pg_conn.h"

#include <cstring>

#include "connectors/postgres/conninfo.h"
#include "connectors/postgres/type_map.h"
#include "util/redact.h"

namespace sluice::pg {

namespace {

std::string Trim(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Status FromSqlState(const std::string& state, const std::string& msg) {
  if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" ||
      state == "53300" || state == "55006" || state == "40001" || state == "40P01") {
    return Status::Unavailable(msg);
  }
  if (state == "42P01" || state == "42704" || state == "3D000" || state == "42883") {
    return Status::NotFound(msg);
  }
  if (state.rfind("28", 0) == 0 || state == "42501" || state == "55000" || state == "53400" ||
      state.rfind("42", 0) == 0 || state.rfind("22", 0) == 0) {
    return Status::InvalidArgument(msg);
  }
  return Status::Internal(msg);
}

}  // namespace

Status ToStatus(PGconn* conn, const PGresult* result, std::string_view what) {
  std::string prefix = std::string(what) + ": ";
  if (conn && PQstatus(conn) == CONNECTION_BAD) {
    return Status::Unavailable(prefix + "connection lost: " + Trim(PQerrorMessage(conn)));
  }
  if (!result) return Status::Unavailable(prefix + Trim(conn ? PQerrorMessage(conn) : "no result"));
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string msg = prefix + Trim(PQresultErrorMessage(result));
  return FromSqlState(state ? state : "", msg);
}

Result<PgConn> PgConn::Connect(const std::string& dsn, bool replication) {
  std::vector<const char*> keys = {"dbname", "options", "application_name", "connect_timeout"};
  std::vector<const char*> values = {dsn.c_str(), kSessionOptions, "sluice", "10"};
  if (replication) {
    keys.push_back("replication");
    values.push_back("database");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  // expand_dbname=1: `dsn` may be a conninfo string or a URI. Keywords after `dbname`
  // override what it sets, so our `options` (the session settings the type mapping relies
  // on), application_name and connect_timeout win over the user's.
  PGconn* raw = PQconnectdbParams(keys.data(), values.data(), 1);
  PgConn conn(raw);
  if (!raw) return Status::Unavailable("out of memory connecting to PostgreSQL");
  if (PQstatus(raw) != CONNECTION_OK) {
    std::string msg = Trim(PQerrorMessage(raw));
    bool auth = msg.find("authentication failed") != std::string::npos ||
                msg.find("no pg_hba.conf entry") != std::string::npos ||
                (msg.find("database \"") != std::string::npos &&
                 msg.find("does not exist") != std::string::npos) ||
                (msg.find("role \"") != std::string::npos &&
                 msg.find("does not exist") != std::string::npos);
    if (msg.find("replication connection") != std::string::npos ||
        msg.find("must have replication") != std::string::npos ||
        msg.find("permission denied to start WAL sender") != std::string::npos) {
      return Status::InvalidArgument(
          "cannot open a replication connection: " + Redact(msg) +
          " (the role needs the REPLICATION attribute: ALTER ROLE <user> REPLICATION)");
    }
    std::string text =
        "cannot connect to PostgreSQL (" + DescribeConninfo(dsn) + "): " + Redact(msg);
    return auth ? Status::InvalidArgument(text) : Status::Unavailable(text);
  }
  return conn;
}

Result<ResultPtr> PgConn::Exec(const std::string& sql) {
  ResultPtr r(PQexec(conn_.get(), sql.c_str()));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ToStatus(conn_.get(), r.get(), sql);
  return r;
}

Result<ResultPtr> PgConn::Exec(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  ResultPtr r(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                           values.data(), nullptr, nullptr, 0));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ToStatus(conn_.get(), r.get(), sql);
  return r;
}

std::string PgConn::Ident(std::string_view name) const {
  char* q = PQescapeIdentifier(conn_.get(), name.data(), name.size());
  std::string out = q ? q : "";
  PQfreemem(q);
  return out;
}

std::string PgConn::Literal(std::string_view text) const {
  char* q = PQescapeLiteral(conn_.get(), text.data(), text.size());
  std::string out = q ? q : "";
  PQfreemem(q);
  return out;
}

std::string GetText(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return "";
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

bool IsNull(const PGresult* r, int row, int col) { return PQgetisnull(r, row, col) != 0; }

}  // namespace sluice::pg
