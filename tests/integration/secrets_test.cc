// Passwords in every DSN form libpq accepts (blanks around '=', backslash escapes, quotes
// with \', %-encoded URIs, ${ENV}) reach no log line, no endpoint and no `check --connect`
// or `verify` output, while sluice retries a source it cannot reach.
#include <signal.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "http_support.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

// YAML double-quoted: a DSN as it is, backslashes and quotes included.
std::string YamlQuoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("Secrets: no DSN password in logs, /status, /readyz, check --connect or verify",
          "[integration][secrets]") {
  TempDir dir("secrets");
  const std::string at =
      "host=127.0.0.1 port=" + std::to_string(ClosedPort()) + " dbname=x user=u ";
  const std::string uri_at = "127.0.0.1:" + std::to_string(ClosedPort()) + "/x";
  // Each DSN, and the pieces of its password that must never be printed.
  const std::vector<std::pair<std::string, std::vector<std::string>>> dsns = {
      {at + "password = spaced-secret-a1", {"spaced-secret-a1"}},
      {at + "password=Back\\ Slash-b2", {"Slash-b2", "Back Slash"}},
      {at + "password='quoted b\\'c-c3'", {"quoted", "c-c3"}},
      {"postgresql://u:p%40ss-d4@" + uri_at, {"p%40ss-d4", "p@ss-d4"}},
      {"postgresql://u@" + uri_at + "?password=query-e5", {"query-e5"}},
      {at + "password=${SECRET_PW}", {"env-secret-f6"}},
  };
  std::string config =
      "state_dir: " + dir.File("state") + "\nhttp:\n  listen: \"127.0.0.1:0\"\nsources:\n";
  std::string sinks = "sinks:\n";  // files: `verify` reads them back, so it connects
  std::string pipelines = "pipelines:\n";
  for (size_t i = 0; i < dsns.size(); ++i) {
    const std::string n = std::to_string(i);
    config += "  s" + n + ":\n    type: postgres\n    dsn: " + YamlQuoted(dsns[i].first) + "\n";
    sinks += "  o" + n + ": { type: stdout, path: " + dir.File("o" + n + ".jsonl") + " }\n";
    pipelines += "  p" + n + ": s" + n + ".public.items | o" + n + "\n";
  }
  config += sinks + pipelines;
  WriteFile(dir.File("sluice.yaml"), config);
  const std::map<std::string, std::string> env = {{"SECRET_PW", "env-secret-f6"}};

  SluiceProcess sluice({"run", "-c", dir.File("sluice.yaml")}, dir.File("stdout.log"),
                       dir.File("stderr.log"), env);
  int port = HttpPort(dir);
  // Every pipeline has logged a failed connection and is retrying it.
  REQUIRE(WaitFor(
      [&] {
        std::string log = ReadFile(dir.File("stderr.log"));
        for (size_t i = 0; i < dsns.size(); ++i) {
          if (Count(log, "pipeline p" + std::to_string(i) + ": PostgreSQL unavailable") == 0) {
            return false;
          }
        }
        return true;
      },
      seconds(60)));
  HttpAnswer status = HttpGet(port, "/status");
  HttpAnswer ready = HttpGet(port, "/readyz");
  CHECK(status.status == 200);
  CHECK(ready.status == 503);
  CHECK(status.body.find("cannot connect to PostgreSQL") != std::string::npos);
  sluice.Signal(SIGTERM);
  CHECK(sluice.Wait(seconds(30)) >= 0);

  SluiceProcess check({"check", "--connect", "-c", dir.File("sluice.yaml")}, dir.File("check.out"),
                      dir.File("check.err"), env);
  CHECK(check.Wait(seconds(120)) == 1);
  const std::string checked = ReadFile(dir.File("check.out")) + ReadFile(dir.File("check.err"));
  CHECK(Count(checked, "cannot connect to PostgreSQL") >= dsns.size());

  SluiceProcess verify({"verify", "-c", dir.File("sluice.yaml"), "--wait", "1"},
                       dir.File("verify.out"), dir.File("verify.err"), env);
  CHECK(verify.Wait(seconds(120)) == 1);
  const std::string verified = ReadFile(dir.File("verify.out")) + ReadFile(dir.File("verify.err"));
  CHECK(verified.find("error: pipeline p0") != std::string::npos);

  const std::string log = ReadFile(dir.File("stderr.log"));
  INFO("log:\n"
       << log << "\n/status:\n"
       << status.body << "\ncheck:\n"
       << checked << "\nverify:\n"
       << verified);
  for (const auto& [dsn, secrets] : dsns) {
    for (const std::string& secret : secrets) {
      INFO("secret: " << secret);
      for (const std::string& text : {log, status.body, ready.body, checked, verified}) {
        CHECK(text.find(secret) == std::string::npos);
      }
    }
  }
  // What helps to find the mistake stays: the parsed DSN without its password.
  CHECK(log.find("host=127.0.0.1") != std::string::npos);
}

}  // namespace sluice::test
