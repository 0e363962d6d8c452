// libpq as the oracle for every connection string form PQconninfoParse accepts: Redact
// hides exactly its passwords and keeps the rest a valid, equal connection string;
// ConninfoSecrets names those passwords; DescribeConninfo prints all but them.
#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connectors/postgres/conninfo.h"
#include "util/redact.h"

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

TEST_CASE("ConninfoSecrets: the passwords libpq reads, decoded and as written", "[unit][redact]") {
  for (const std::string& dsn : kForms) {
    INFO("dsn: " << dsn);
    std::vector<std::string> secret;
    std::optional<Conninfo> original = Parse(dsn, &secret);
    REQUIRE(original.has_value());
    auto parts = ConninfoSecrets(dsn);
    REQUIRE(parts.ok());
    for (const std::string& key : secret) {
      auto it = original->find(key);
      if (it == original->end() || it->second.empty()) continue;
      CHECK(std::find(parts->begin(), parts->end(), it->second) != parts->end());
    }
    // Each part the DSN shows as written is one too: hidden even out of its key=value.
    for (const std::string& written : WrittenSecrets(dsn)) {
      CHECK(std::find(parts->begin(), parts->end(), written) != parts->end());
    }
    CHECK(std::find(parts->begin(), parts->end(), dsn) == parts->end());  // hosts stay visible
  }
  CHECK(ConninfoSecrets("host=db user=u").value().empty());
}

TEST_CASE("ConninfoSecrets: what libpq refuses is an error that quotes none of it",
          "[unit][redact]") {
  const std::pair<std::string, std::string> refused[] = {
      {"host=db password=my pass phrase", "pass"},
      {"host=db password='never closed", "never"},
      {"host=db password=a b=c", "b"},
      {"postgresql://u:p%zzw@db/shop", "p%zzw"},
      {"postgresql://u:pw@[::1/shop", "u:pw"},
  };
  for (const auto& [dsn, fragment] : refused) {
    INFO("dsn: " << dsn);
    REQUIRE_FALSE(Parse(dsn).has_value());
    auto parts = ConninfoSecrets(dsn);
    REQUIRE_FALSE(parts.ok());
    INFO(parts.status().message());
    CHECK(parts.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(parts.status().message(),
               Catch::StartsWith("not a libpq connection string or URI: "));
    CHECK(parts.status().message().find("\"" + fragment) == std::string::npos);
  }
  CHECK_THAT(ConninfoSecrets("host=db pasword=x").status().message(),
             Catch::Contains("invalid connection option \"...\""));
  CHECK_THAT(ConninfoSecrets("host=db oops").status().message(),
             Catch::Contains("missing \"=\" after \"...\""));
}

TEST_CASE("DescribeConninfo: everything libpq reads but the passwords", "[unit][redact]") {
  for (const std::string& dsn : kForms) {
    INFO("dsn: " << dsn);
    std::vector<std::string> secret;
    std::optional<Conninfo> original = Parse(dsn, &secret);
    REQUIRE(original.has_value());
    const std::string described = DescribeConninfo(dsn);
    INFO("described: " << described);
    std::optional<Conninfo> after = Parse(described == "libpq defaults" ? "" : described);
    REQUIRE(after.has_value());
    for (const std::string& key : secret) original->erase(key);
    CHECK(*after == *original);
  }
  CHECK(DescribeConninfo("host=db port=5432 dbname='my db' user=o\\'k") ==
        "user='o\\'k' dbname='my db' host=db port=5432");  // libpq's order
  CHECK(DescribeConninfo("") == "libpq defaults");
  CHECK(DescribeConninfo("host=db oops") == "an invalid connection string");
}

}  // namespace sluice::pg
