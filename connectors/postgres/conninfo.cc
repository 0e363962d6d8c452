#include "connectors/postgres/conninfo.h"

#include <libpq-fe.h>

#include <memory>

#include "util/redact.h"

namespace sluice::pg {

namespace {

struct OptionsDeleter {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
using OptionsPtr = std::unique_ptr<PQconninfoOption, OptionsDeleter>;

bool IsSecret(const PQconninfoOption& o) { return o.dispchar != nullptr && o.dispchar[0] == '*'; }

// libpq's parse error with every "..." part but "=" replaced: `missing "=" after "phrase"`
// can quote the second word of an unquoted password with a blank.
std::string HideQuoted(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string out;
  size_t i = 0;
  while (i < message.size()) {
    size_t open = message.find('"', i);
    size_t close = open == std::string::npos ? open : message.find('"', open + 1);
    if (close == std::string::npos) {
      out.append(message, i);
      break;
    }
    std::string quoted = message.substr(open + 1, close - open - 1);
    out.append(message, i, open - i);
    out.append(quoted == "=" ? "\"=\"" : "\"...\"");
    i = close + 1;
  }
  return out;
}

Result<OptionsPtr> Parse(const std::string& dsn) {
  char* error = nullptr;
  OptionsPtr options(PQconninfoParse(dsn.c_str(), &error));
  if (options) return options;
  std::string reason = error != nullptr ? HideQuoted(error) : "out of memory";
  PQfreemem(error);
  return Status::InvalidArgument("not a libpq connection string or URI: " + reason +
                                 " (quoted parts are not shown: the value is a secret)");
}

// A conninfo value as libpq reads it back: quoted when empty or holding blanks, ' or \.
std::string ConninfoValue(const std::string& value) {
  if (!value.empty() && value.find_first_of(" \t\n\r\f\v'\\") == std::string::npos) return value;
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

}  // namespace

Result<std::vector<std::string>> ConninfoSecrets(const std::string& dsn) {
  auto options = Parse(dsn);
  if (!options.ok()) return options.status();
  std::vector<std::string> out;
  for (const PQconninfoOption* o = options->get(); o->keyword != nullptr; ++o) {
    if (IsSecret(*o) && o->val != nullptr && o->val[0] != '\0') out.emplace_back(o->val);
  }
  for (std::string& written : WrittenSecrets(dsn)) out.push_back(std::move(written));
  return out;
}

std::string DescribeConninfo(const std::string& dsn) {
  auto options = Parse(dsn);
  if (!options.ok()) return "an invalid connection string";
  std::string out;
  for (const PQconninfoOption* o = options->get(); o->keyword != nullptr; ++o) {
    if (IsSecret(*o) || o->val == nullptr) continue;
    out += (out.empty() ? "" : " ") + std::string(o->keyword) + "=" + ConninfoValue(o->val);
  }
  return out.empty() ? "libpq defaults" : out;
}

}  // namespace sluice::pg
