// libpq as the oracle for every connection string form PQconninfoParse accepts: Redact
// hides exactly its passwords and keeps the rest a valid, equal connection string.
#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/redact.h"

namespace sluice::pg {
namespace {

using Conninfo = std::map<std::string, std::string>;

// What libpq makes of `dsn`, or nullopt when it refuses it. `secret` gets the keywords libpq
// itself hides (dispchar "*": password, sslpassword).
std::optional<Conninfo> Parse(const std::string& dsn, std::vector<std::string>* secret = nullptr) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return std::nullopt;
  }
  Conninfo out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out[o->keyword] = o->val;
    if (secret != nullptr && o->dispchar != nullptr && o->dispchar[0] == '*') {
      secret->push_back(o->keyword);
    }
  }
  PQconninfoFree(options);
  return out;
}

// Every form libpq accepts that carries a password: key = value with and without blanks,
// quoted values with blanks, \' and \\, backslash escapes in bare values, separators libpq
// does not split on, and URIs with %-encoding, in the user info and in the query.
const std::vector<std::string> kForms = {
    "host=db password=plain-1 user=u",
    "host=db password = spaced-2 user=u",
    "host=db password  =\tspaced-3\tuser=u",
    "host=db password=\nnewline-4\nuser=u",
    "password=Back\\ Slash-5 host=db",
    "password=back\\\\slash-6 host=db",
    "password=esc\\'quote-7 host=db",
    "password='a b\\'c-8' host=db",
    "password = 'with \\\\ and \\' in quotes-9' host=db",
    "password='' host=db",
    "password= host=db",
    "host=db password=amp&semi;colon-10 user=u",
    "host=db password=x=y=z-11",
    "host=db password=first-12 password=second-12",
    "host=db sslpassword=keypass-13 password=pw-13",
    "  password=leading-14",
    "dbname='shop' password=after-quoted-15",
    "postgresql://u:uri-pw-16@db:5432/shop",
    "postgres://u:p%40ss%20w%3Ard-17@db/shop?sslmode=disable",
    "postgresql://u:colon:in:pw-18@db/shop",
    "postgresql://u:q?mark-19@db/shop",
    "postgresql://:only-pw-20@db/shop",
    "postgresql://u:multi-21@h1:5432,h2:5433/shop",
    "postgresql://u:ipv6-22@[::1]:5432/shop",
    "postgresql://db/shop?user=u&password=query-pw-23&sslmode=disable",
    "postgresql://db/shop?password=q%26p%3Dx-24",
    "postgresql:///shop?host=/tmp&password=socket-25",
    "postgresql://u:both-26@db/shop?password=query-26",
    "postgresql://db/shop?sslpassword=key-27",
};

}  // namespace

TEST_CASE("Redact: every conninfo form libpq accepts keeps its parse, passwords hidden",
          "[unit][redact]") {
  for (const std::string& dsn : kForms) {
    INFO("dsn: " << dsn);
    std::vector<std::string> secret;
    std::optional<Conninfo> original = Parse(dsn, &secret);
    REQUIRE(original.has_value());
    const std::string redacted = Redact(dsn);
    INFO("redacted: " << redacted);
    std::optional<Conninfo> after = Parse(redacted);
    CHECK(after.has_value());
    if (!after) continue;
    CHECK(after->size() == original->size());
    for (const auto& [key, value] : *original) {
      INFO("keyword " << key << " = " << value);
      bool hidden = std::find(secret.begin(), secret.end(), key) != secret.end();
      CHECK((*after)[key] == (hidden ? "***" : value));
      if (hidden && value.size() >= 3) {
        CHECK(redacted.find(value) == std::string::npos);
        CHECK(Redact("cannot connect to PostgreSQL (" + dsn + "): refused").find(value) ==
              std::string::npos);
      }
    }
  }
}

}  // namespace sluice::pg
