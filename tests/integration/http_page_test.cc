// The status page's endpoints on the HTTP server with fake handlers (no database): GET /
// serves the embedded page under the token rule of /status, where a browser may send the
// token as the Basic password; /status/history answers the ring's JSON from `since` on.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/http_server.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

struct PageServer {
  explicit PageServer(const std::string& token) {
    HttpHandlers handlers;
    handlers.report = [] { return DaemonReport{}; };
    handlers.metrics = [] { return std::string(); };
    handlers.history = [this](int64_t since) {
      asked_since = since;
      return nlohmann::json{{"pipelines", nlohmann::json::array()}, {"since", since}};
    };
    server =
        std::make_unique<HttpServer>(HttpSettings{"127.0.0.1:0", token, {}}, std::move(handlers));
    REQUIRE(server->Start().ok());
  }
  std::atomic<int64_t> asked_since{-1};
  std::unique_ptr<HttpServer> server;
};

httplib::Result Get(int port, const std::string& path,
                    const std::function<void(httplib::Client&)>& auth = {}) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5, 0);
  if (auth) auth(client);
  return client.Get(path.c_str());
}

}  // namespace

TEST_CASE("HttpServer: the status page needs the token, as a bearer or a Basic password",
          "[integration][http][page]") {
  PageServer fake("s3cret");
  const int port = fake.server->port();
  auto none = Get(port, "/");
  REQUIRE(none);
  CHECK(none->status == 401);
  // Two challenges: the browser prompts for the Basic one.
  std::string challenges;
  for (const auto& [k, v] : none->headers) {
    if (k == "WWW-Authenticate") challenges += v + ";";
  }
  CHECK(challenges.find("Basic realm=\"sluice\"") != std::string::npos);
  CHECK(challenges.find("Bearer") != std::string::npos);
  auto wrong = Get(port, "/", [](httplib::Client& c) { c.set_basic_auth("any", "s3cre"); });
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  auto basic = Get(port, "/", [](httplib::Client& c) { c.set_basic_auth("me", "s3cret"); });
  REQUIRE(basic);
  CHECK(basic->status == 200);
  CHECK(basic->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(basic->get_header_value("Content-Security-Policy").find("default-src 'none'") !=
        std::string::npos);
  CHECK(basic->body.find("<main id=\"pipelines\">") != std::string::npos);
  // Nothing outside the page itself: no script, style or font from elsewhere.
  CHECK(basic->body.find("src=\"http") == std::string::npos);
  CHECK(basic->body.find("href=\"http") == std::string::npos);
  auto bearer = Get(port, "/", [](httplib::Client& c) { c.set_bearer_token_auth("s3cret"); });
  REQUIRE(bearer);
  CHECK(bearer->status == 200);
  // The Basic password opens the other endpoints too (the page's own requests send it).
  auto status = Get(port, "/status", [](httplib::Client& c) { c.set_basic_auth("", "s3cret"); });
  REQUIRE(status);
  CHECK(status->status == 200);
  auto history = Get(port, "/status/history");
  REQUIRE(history);
  CHECK(history->status == 401);
}

TEST_CASE("HttpServer: /status/history passes `since` on and answers JSON",
          "[integration][http][page]") {
  PageServer fake("");
  const int port = fake.server->port();
  auto all = Get(port, "/status/history");
  REQUIRE(all);
  CHECK(all->status == 200);
  CHECK(nlohmann::json::parse(all->body)["since"] == 0);
  auto since = Get(port, "/status/history?since=1733580000123");
  REQUIRE(since);
  CHECK(nlohmann::json::parse(since->body)["since"] == 1733580000123);
  CHECK(fake.asked_since == 1733580000123);
  auto page = Get(port, "/");  // loopback without a token: open, as /status is
  REQUIRE(page);
  CHECK(page->status == 200);
}

}  // namespace sluice::test
