#include "runtime/http_request.h"

#include <catch2/catch.hpp>

namespace sluice {
namespace {

using State = HttpRequestParser::State;

HttpServerLimits Limits() {
  HttpServerLimits limits;
  limits.max_header_bytes = 1024;
  limits.max_body_bytes = 100;
  return limits;
}

// Parses `text` whole; the parser for looking at the outcome.
HttpRequestParser ParseAll(const std::string& text, State expected) {
  HttpRequestParser p(Limits());
  CHECK(p.Parse(text) == expected);
  return p;
}

int ErrorOf(const std::string& text) {
  HttpRequestParser p(Limits());
  State s = p.Parse(text);
  INFO(text << " -> " << p.error_message());
  CHECK(s == State::kError);
  return p.error_status();
}

}  // namespace

TEST_CASE("HttpRequestParser: a GET with its path, query and headers", "[unit][http]") {
  const std::string text =
      "GET /wait%2Fnow?pipeline=a%20b&lsn=0%2F16B3748&flag HTTP/1.1\r\n"
      "Host: x\r\nauthorization:  Bearer t  \r\nX-Empty:\r\n\r\n";
  HttpRequestParser p = ParseAll(text, State::kDone);
  const HttpRequest& r = p.request();
  CHECK(p.consumed() == text.size());
  CHECK(r.method == "GET");
  CHECK(r.target == "/wait%2Fnow?pipeline=a%20b&lsn=0%2F16B3748&flag");
  CHECK(r.path == "/wait/now");
  CHECK(r.query == "pipeline=a%20b&lsn=0%2F16B3748&flag");
  CHECK(r.Param("pipeline") == "a b");
  CHECK(r.Param("lsn") == "0/16B3748");
  CHECK(r.Param("flag") == "");
  CHECK(r.Param("missing") == std::nullopt);
  CHECK(r.Header("Authorization") == "Bearer t");
  CHECK(r.Header("HOST") == "x");
  CHECK(r.Header("x-empty").empty());
  CHECK(r.headers.size() == 3);
  CHECK(r.minor_version == 1);
  CHECK(r.keep_alive);
  CHECK(r.body.empty());
}

TEST_CASE("HttpRequestParser: query strings", "[unit][http]") {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  CHECK(ParseQuery("") == Pairs{});
  CHECK(
      ParseQuery("a=1&&b=x+y%21&c&d=&=e&bad=%zz&e=%") ==
      Pairs{
          {"a", "1"}, {"b", "x y!"}, {"c", ""}, {"d", ""}, {"", "e"}, {"bad", "%zz"}, {"e", "%"}});
  CHECK(ParseQuery("a=1&a=2") == Pairs{{"a", "1"}, {"a", "2"}});
}

TEST_CASE("HttpRequestParser: bytes arriving one at a time", "[unit][http]") {
  const std::string text = "\r\nPOST /reload HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  HttpRequestParser p(Limits());
  for (size_t n = 0; n < text.size(); ++n) {
    INFO("after " << n << " bytes");
    REQUIRE(p.Parse(std::string_view(text).substr(0, n)) == State::kNeedMore);
    CHECK(p.started() == (n > 2));  // the empty line before the request does not count
  }
  REQUIRE(p.Parse(text) == State::kDone);
  CHECK(p.consumed() == text.size());
  CHECK(p.request().method == "POST");
  CHECK(p.request().body == "hello");
}

TEST_CASE("HttpRequestParser: pipelined requests, one at a time", "[unit][http]") {
  const std::string first = "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz";
  const std::string second = "GET /b?q=1 HTTP/1.1\nConnection: close\n\n";  // bare LFs
  const std::string third = "GET /c HTTP/1.1\r\n";
  std::string buffer = first + second + third;
  HttpRequestParser p(Limits());
  REQUIRE(p.Parse(buffer) == State::kDone);
  CHECK(p.request().path == "/a");
  CHECK(p.request().body == "xyz");
  REQUIRE(p.consumed() == first.size());
  buffer.erase(0, p.consumed());
  p.Reset();
  REQUIRE(p.Parse(buffer) == State::kDone);
  CHECK(p.request().path == "/b");
  CHECK(p.request().Param("q") == "1");
  CHECK_FALSE(p.request().keep_alive);
  buffer.erase(0, p.consumed());
  p.Reset();
  CHECK(p.Parse(buffer) == State::kNeedMore);
  CHECK(p.started());
  CHECK(p.request().path == "/c");  // the request line is read as soon as it ends
}

TEST_CASE("HttpRequestParser: bodies", "[unit][http]") {
  SECTION("the body may arrive after the head, in pieces") {
    HttpRequestParser p(Limits());
    std::string buffer = "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
    CHECK(p.Parse(buffer) == State::kNeedMore);
    buffer += "01234";
    CHECK(p.Parse(buffer) == State::kNeedMore);
    buffer += "56789GET";  // and the next request's first bytes
    REQUIRE(p.Parse(buffer) == State::kDone);
    CHECK(p.request().body == "0123456789");
    CHECK(p.consumed() == buffer.size() - 3);
  }
  SECTION("Expect: 100-continue is noticed once the head is complete") {
    HttpRequestParser p(Limits());
    std::string buffer = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n";
    CHECK(p.Parse(buffer) == State::kNeedMore);
    CHECK_FALSE(p.expects_continue());
    buffer += "\r\n";
    CHECK(p.Parse(buffer) == State::kNeedMore);
    CHECK(p.expects_continue());
    buffer += "ok";
    CHECK(p.Parse(buffer) == State::kDone);
    CHECK_FALSE(p.expects_continue());
  }
  SECTION("a body at the limit is accepted, one byte more is refused before it arrives") {
    std::string body(100, 'b');
    HttpRequestParser ok =
        ParseAll("POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + body, State::kDone);
    CHECK(ok.request().body == body);
    CHECK(ErrorOf("POST /x HTTP/1.1\r\nContent-Length: 101\r\n\r\n") == 413);
  }
  SECTION("framing that could be read two ways is refused") {
    CHECK(ErrorOf("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == 501);
    CHECK(ErrorOf("POST /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n") == 400);
    CHECK(ErrorOf("POST /x HTTP/1.1\r\nContent-Length: 2x\r\n\r\n") == 400);
    CHECK(ErrorOf("POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == 400);
    CHECK(ErrorOf("POST /x HTTP/1.1\r\nContent-Length:\r\n\r\n") == 400);
    HttpRequestParser same = ParseAll(
        "POST /x HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab", State::kDone);
    CHECK(same.request().body == "ab");
  }
}

TEST_CASE("HttpRequestParser: HTTP/1.0 and 1.1 keep-alive", "[unit][http]") {
  auto keep_alive = [](const std::string& version, const std::string& connection) {
    std::string text = "GET / HTTP/" + version + "\r\n";
    if (!connection.empty()) text += "Connection: " + connection + "\r\n";
    HttpRequestParser p = ParseAll(text + "\r\n", State::kDone);
    return p.request().keep_alive;
  };
  CHECK(keep_alive("1.1", ""));
  CHECK_FALSE(keep_alive("1.1", "close"));
  CHECK_FALSE(keep_alive("1.1", "Upgrade, Close"));
  CHECK_FALSE(keep_alive("1.0", ""));
  CHECK(keep_alive("1.0", "Keep-Alive"));
  CHECK_FALSE(keep_alive("1.0", "keep-alive, close"));
  CHECK(ParseAll("GET / HTTP/1.0\r\n\r\n", State::kDone).request().minor_version == 0);
}

TEST_CASE("HttpRequestParser: bad request lines and headers", "[unit][http]") {
  CHECK(ErrorOf("GET /\r\n") == 400);
  CHECK(ErrorOf("GET  / HTTP/1.1\r\n") == 400);
  CHECK(ErrorOf("GET / HTTP/1.1 extra\r\n") == 400);
  CHECK(ErrorOf("GET http://host/ HTTP/1.1\r\n") == 400);
  CHECK(ErrorOf("GET * HTTP/1.1\r\n") == 400);
  CHECK(ErrorOf("G(T / HTTP/1.1\r\n") == 400);
  CHECK(ErrorOf(" GET / HTTP/1.1\r\n") == 400);
  CHECK(ErrorOf("GET / FTP/1.0\r\n") == 400);
  CHECK(ErrorOf("GET / http/1.1\r\n") == 400);
  CHECK(ErrorOf("GET / HTTP/2.0\r\n") == 505);
  CHECK(ErrorOf("GET / HTTP/0.9\r\n") == 505);
  CHECK(ErrorOf("GET /a%zz HTTP/1.1\r\n") == 400);
  CHECK(ErrorOf("GET /a%00 HTTP/1.1\r\n") == 400);
  CHECK(ErrorOf("GET /a\x01 HTTP/1.1\r\n") == 400);
  CHECK(ErrorOf("\x16\x03\x01\x02\x01\x01\xfc\x03\x03\n") == 400);  // TLS, not HTTP
  CHECK(ErrorOf("GET / HTTP/1.1\r\nno colon\r\n\r\n") == 400);
  CHECK(ErrorOf("GET / HTTP/1.1\r\nName : v\r\n\r\n") == 400);
  CHECK(ErrorOf("GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n") == 400);
  CHECK(ErrorOf("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n") == 400);
  const char nul[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
  CHECK(ErrorOf(std::string(nul, sizeof nul - 1)) == 400);
}

TEST_CASE("HttpRequestParser: oversize heads are refused as soon as they pass the limit",
          "[unit][http]") {
  // Exactly at the limit: accepted.
  const std::string line = "GET / HTTP/1.1\r\n";
  std::string filler = "X: " + std::string(1024 - line.size() - 2 - 5, 'a') + "\r\n";
  HttpRequestParser at = ParseAll(line + filler + "\r\n", State::kDone);
  CHECK(at.consumed() == 1024);

  HttpRequestParser p(Limits());
  std::string buffer = line;
  while (buffer.size() <= 1024) {
    REQUIRE(p.Parse(buffer) == State::kNeedMore);
    buffer += "X-Pad: 0123456789\r\n";
  }
  CHECK(p.Parse(buffer) == State::kError);
  CHECK(p.error_status() == 431);
  CHECK(ErrorOf("GET /" + std::string(1100, 'a')) == 414);  // no end of line yet
  CHECK(ErrorOf(std::string(1100, '\n')) == 400);           // empty lines do not go on forever
}

}  // namespace sluice
