// What of a libpq connection string (conninfo or URI) may be printed: libpq's own parser
// (PQconninfoParse) decides, so every form libpq accepts is read as libpq reads it.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace sluice::pg {

// OptionSpec::secrets of `dsn`: the values of the keywords libpq itself hides (dispchar "*":
// password, sslpassword) as libpq decodes them, and as they are written in `dsn` (escaped,
// %-encoded). InvalidArgument when libpq cannot parse `dsn`; the message keeps libpq's
// reason but hides the parts of `dsn` it quotes, which may be pieces of a password.
Result<std::vector<std::string>> ConninfoSecrets(const std::string& dsn);

// `dsn` as libpq reads it, its secret keywords left out, as conninfo:
// "host=db port=5432 dbname=shop user=sluice". For messages about a connection.
std::string DescribeConninfo(const std::string& dsn);

}  // namespace sluice::pg
