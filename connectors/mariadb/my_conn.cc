#include "connectors/mariadb/my_conn.h"

#include <errmsg.h>
#include <mysqld_error.h>

#include <charconv>

namespace sluice::mariadb {

std::string Dsn::Describe() const {
  return "host=" + host + " port=" + std::to_string(port) + " user=" + user +
         " database=" + database;
}

Result<Dsn> ParseDsn(const std::string& text) {
  Dsn dsn;
  size_t i = 0;
  auto bad = [](const std::string& why) { return Status::InvalidArgument("dsn: " + why); };
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i == text.size()) break;
    size_t eq = text.find('=', i);
    if (eq == std::string::npos) return bad("expected key=value");
    std::string key = text.substr(i, eq - i);
    std::string value;
    i = eq + 1;
    if (i < text.size() && text[i] == '\'') {
      ++i;
      while (i < text.size() && text[i] != '\'') {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        value.push_back(text[i++]);
      }
      if (i == text.size()) return bad("unterminated quote in " + key);
      ++i;
    } else {
      size_t end = text.find(' ', i);
      if (end == std::string::npos) end = text.size();
      value = text.substr(i, end - i);
      i = end;
    }
    if (key == "host") {
      dsn.host = value;
    } else if (key == "port") {
      auto r = std::from_chars(value.data(), value.data() + value.size(), dsn.port);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size() || dsn.port == 0 ||
          dsn.port > 65535) {
        return bad("port must be a number from 1 to 65535");
      }
    } else if (key == "user") {
      dsn.user = value;
    } else if (key == "password") {
      dsn.password = value;
    } else if (key == "database" || key == "dbname") {
      dsn.database = value;
    } else {
      return bad("unknown key '" + key + "' (host, port, user, password, database)");
    }
  }
  if (dsn.user.empty()) return bad("user is required");
  return dsn;
}

Result<std::vector<std::string>> DsnSecrets(const std::string& text) {
  auto dsn = ParseDsn(text);
  if (!dsn.ok()) return Status::InvalidArgument("dsn: cannot be parsed");
  std::vector<std::string> out;
  if (!dsn.value().password.empty()) out.push_back(dsn.value().password);
  return out;
}

Status ToStatus(MYSQL* c, const std::string& what) {
  unsigned code = mysql_errno(c);
  std::string msg = what + ": " + mysql_error(c) + " (" + std::to_string(code) + ")";
  if (code == ER_MASTER_FATAL_ERROR_READING_BINLOG) return Status::DataLoss(msg);
  if (code == ER_ACCESS_DENIED_ERROR || code == ER_DBACCESS_DENIED_ERROR ||
      code == ER_SPECIFIC_ACCESS_DENIED_ERROR || code == ER_TABLEACCESS_DENIED_ERROR) {
    return Status::FailedPrecondition(msg);
  }
  if ((code >= CR_MIN_ERROR && code <= CR_MAX_ERROR) || code == ER_SERVER_SHUTDOWN ||
      code == ER_CONNECTION_KILLED || code == ER_NET_READ_ERROR ||
      code == ER_NET_READ_INTERRUPTED || code == ER_QUERY_INTERRUPTED) {
    return Status::Unavailable(msg);
  }
  return Status::Internal(msg);
}

Result<MyConn> MyConn::Connect(const Dsn& dsn, unsigned read_timeout_s) {
  MYSQL* c = mysql_init(nullptr);
  if (c == nullptr) return Status::Internal("mysql_init failed");
  MyConn conn(c);
  unsigned timeout = 10;
  mysql_optionsv(c, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  if (read_timeout_s > 0) mysql_optionsv(c, MYSQL_OPT_READ_TIMEOUT, &read_timeout_s);
  mysql_optionsv(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (!mysql_real_connect(c, dsn.host.c_str(), dsn.user.c_str(),
                          dsn.password.empty() ? nullptr : dsn.password.c_str(),
                          dsn.database.empty() ? nullptr : dsn.database.c_str(), dsn.port, nullptr,
                          0)) {
    return ToStatus(c, "connect to " + dsn.Describe());
  }
  SLUICE_RETURN_IF_ERROR(conn.Exec("SET time_zone = '+00:00', NAMES utf8mb4"));
  return conn;
}

MyConn& MyConn::operator=(MyConn&& o) noexcept {
  if (this != &o) {
    if (c_) mysql_close(c_);
    c_ = o.c_;
    o.c_ = nullptr;
  }
  return *this;
}

MyConn::~MyConn() {
  if (c_) mysql_close(c_);
}

Status MyConn::Exec(const std::string& sql) {
  if (mysql_real_query(c_, sql.data(), sql.size()) != 0) return ToStatus(c_, sql);
  MYSQL_RES* r = mysql_store_result(c_);
  if (r != nullptr) mysql_free_result(r);
  return Status::Ok();
}

Result<std::vector<TextRow>> MyConn::Query(const std::string& sql) {
  if (mysql_real_query(c_, sql.data(), sql.size()) != 0) return ToStatus(c_, sql);
  MYSQL_RES* r = mysql_store_result(c_);
  std::vector<TextRow> rows;
  if (r == nullptr) {
    if (mysql_field_count(c_) != 0) return ToStatus(c_, sql);
    return rows;
  }
  unsigned n = mysql_num_fields(r);
  while (MYSQL_ROW row = mysql_fetch_row(r)) {
    unsigned long* lengths = mysql_fetch_lengths(r);
    TextRow out;
    for (unsigned i = 0; i < n; ++i) {
      if (row[i]) {
        out.emplace_back(std::string(row[i], lengths[i]));
      } else {
        out.emplace_back(std::nullopt);
      }
    }
    rows.push_back(std::move(out));
  }
  mysql_free_result(r);
  return rows;
}

Result<std::optional<std::string>> MyConn::Scalar(const std::string& sql) {
  auto rows = Query(sql);
  if (!rows.ok()) return rows.status();
  if (rows.value().empty() || rows.value()[0].empty()) return std::optional<std::string>();
  return rows.value()[0][0];
}

std::string MyConn::Quote(std::string_view text) {
  std::string out(text.size() * 2 + 1, '\0');
  unsigned long n = mysql_real_escape_string(c_, out.data(), text.data(), text.size());
  out.resize(n);
  return "'" + out + "'";
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "`";
  for (char ch : name) {
    if (ch == '`') out.push_back('`');
    out.push_back(ch);
  }
  out.push_back('`');
  return out;
}

}  // namespace sluice::mariadb
