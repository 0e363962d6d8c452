// The event-driven HTTP server core against raw sockets and cpp-httplib's client: framing,
// keep-alive, pipelining, errors, and replies given later from another thread.
#include "runtime/http_loop.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "support/raw_http.h"
#include "support/test_env.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using test::RawConnection;

const milliseconds kWait(5000);  // for what must happen
const milliseconds kNot(200);    // for what must not

// An HttpLoop on 127.0.0.1 with a port of its own.
struct TestServer {
  explicit TestServer(HttpHandler handler, HttpServerLimits limits = {})
      : loop(limits, std::move(handler), MetricScope(&metrics, {})) {
    auto addresses = ResolveListen({"127.0.0.1", 0});
    REQUIRE(addresses.ok());
    REQUIRE(loop.Listen(*addresses).ok());
  }
  int port() const { return loop.bound().port(); }
  double Closed(const std::string& reason) const {
    for (const MetricSample& s : metrics.Collect()) {
      if (s.name == "sluice_http_connections_closed_total" &&
          s.labels == MetricLabels{{"reason", reason}}) {
        return s.value;
      }
    }
    return -1;
  }

  MetricsRegistry metrics;  // outlives the loop
  HttpLoop loop;
};

// Answers at once: "METHOD PATH x=PARAM body=BODY".
void Echo(HttpRequest request, HttpReply reply) {
  reply.Send(HttpResponse::Text(200, request.method + " " + request.path +
                                         " x=" + request.Param("x").value_or("-") +
                                         " body=" + request.body));
}

// Keeps every reply for the test to answer. Thread-safe.
class Parked {
 public:
  void Add(HttpRequest request, HttpReply reply) {
    std::lock_guard lock(mu_);
    paths_.push_back(request.path);
    replies_.push_back(std::move(reply));
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return replies_.size();
  }
  HttpReply At(size_t i) {
    std::lock_guard lock(mu_);
    return replies_.at(i);
  }
  std::string Path(size_t i) {
    std::lock_guard lock(mu_);
    return paths_.at(i);
  }
  void Clear() {
    std::lock_guard lock(mu_);
    replies_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<HttpReply> replies_;
  std::vector<std::string> paths_;
};

std::string Get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

}  // namespace

TEST_CASE("HttpLoop: GET, POST with a body, HEAD, keep-alive and pipelined requests",
          "[unit][http]") {
  TestServer server(Echo);
  RawConnection c(server.port());
  REQUIRE(c.Send(Get("/a?x=1")));
  auto a = c.Read(kWait);
  REQUIRE(a);
  CHECK(a->status == 200);
  CHECK(a->body == "GET /a x=1 body=");
  CHECK(a->Header("Connection").empty());

  // The same connection: a body, then two requests in one write, answered in order.
  REQUIRE(c.Send("POST /p HTTP/1.1\r\nContent-Length: 4\r\n\r\ndata"));
  auto p = c.Read(kWait);
  REQUIRE(p);
  CHECK(p->body == "POST /p x=- body=data");
  REQUIRE(c.Send(Get("/one") + "POST /two?x=%2F HTTP/1.1\r\nContent-Length: 1\r\n\r\n!"));
  auto one = c.Read(kWait);
  auto two = c.Read(kWait);
  REQUIRE(one);
  REQUIRE(two);
  CHECK(one->body == "GET /one x=- body=");
  CHECK(two->body == "POST /two x=/ body=!");

  // HEAD: the GET's length, no body (the next answer on the connection reads cleanly).
  REQUIRE(c.Send("HEAD /h HTTP/1.1\r\n\r\n" + Get("/after")));
  auto head = c.Read(kWait, true);
  REQUIRE(head);
  CHECK(head->Header("Content-Length") == std::to_string(std::string("HEAD /h x=- body=").size()));
  auto after = c.Read(kWait);
  REQUIRE(after);
  CHECK(after->body == "GET /after x=- body=");

  SECTION("Connection: close ends the connection after the answer") {
    REQUIRE(c.Send(Get("/last", "Connection: close\r\n")));
    auto last = c.Read(kWait);
    REQUIRE(last);
    CHECK(last->Header("Connection") == "close");
    CHECK(c.WaitClosed(kWait));
  }
  SECTION("HTTP/1.0 closes unless it asks for keep-alive") {
    REQUIRE(c.Send("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto kept = c.Read(kWait);
    REQUIRE(kept);
    CHECK(kept->Header("Connection") == "keep-alive");
    CHECK_FALSE(c.WaitClosed(kNot));
    REQUIRE(c.Send("GET /c HTTP/1.0\r\n\r\n"));
    auto closed = c.Read(kWait);
    REQUIRE(closed);
    CHECK(closed->Header("Connection") == "close");
    CHECK(c.WaitClosed(kWait));
  }
}

TEST_CASE("HttpLoop: Expect 100-continue, and cpp-httplib's client", "[unit][http]") {
  TestServer server(Echo);
  RawConnection c(server.port());
  REQUIRE(c.Send("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
  auto go_on = c.Read(kWait);
  REQUIRE(go_on);
  CHECK(go_on->status == 100);
  REQUIRE(c.Send("ok"));
  auto answer = c.Read(kWait);
  REQUIRE(answer);
  CHECK(answer->body == "POST /e x=- body=ok");

  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  auto get = client.Get("/g?x=a%20b");
  REQUIRE(get);
  CHECK(get->status == 200);
  CHECK(get->body == "GET /g x=a b body=");
  CHECK(get->get_header_value("Content-Type") == "text/plain; charset=utf-8");
  std::string big(20000, 'z');  // more than one read
  auto post = client.Post("/p", big, "text/plain");
  REQUIRE(post);
  CHECK(post->body == "POST /p x=- body=" + big);
}

TEST_CASE("HttpLoop: malformed and oversize requests get their status, then the connection ends",
          "[unit][http]") {
  HttpServerLimits limits;
  limits.max_header_bytes = 512;
  limits.max_body_bytes = 100;
  TestServer server(Echo, limits);
  struct Case {
    std::string request;
    int status;
  };
  const Case cases[] = {
      {"NOT HTTP\r\n", 400},
      {"GET / HTTP/2.0\r\n", 505},
      {"GET / HTTP/1.1\r\nX: " + std::string(600, 'a') + "\r\n\r\n", 431},
      {"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n" + std::string(101, 'b'), 413},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501},
  };
  for (const Case& k : cases) {
    INFO(k.request.substr(0, 40));
    RawConnection c(server.port());
    REQUIRE(c.Send(k.request));
    auto answer = c.Read(kWait);
    REQUIRE(answer);
    CHECK(answer->status == k.status);
    CHECK(answer->Header("Connection") == "close");
    CHECK(c.WaitClosed(kWait));
  }
  CHECK(server.Closed("bad_request") == 5);
}

TEST_CASE("HttpReply: answered later from another thread, once", "[unit][http]") {
  Parked parked;
  TestServer server([&](HttpRequest request, HttpReply reply) {
    if (request.path == "/now") return reply.Send(HttpResponse::Text(200, "now"));
    parked.Add(std::move(request), std::move(reply));
  });
  RawConnection c(server.port());
  REQUIRE(c.Send(Get("/later")));
  REQUIRE(test::WaitFor([&] { return parked.size() == 1; }, kWait));
  CHECK_FALSE(c.Read(kNot));  // nothing until the reply is sent
  HttpReply reply = parked.At(0);
  CHECK_FALSE(reply.Sent());
  std::thread([reply] { reply.Send(HttpResponse::Text(202, "later")); }).join();
  CHECK(reply.Sent());
  reply.Send(HttpResponse::Text(200, "again"));  // ignored
  auto later = c.Read(kWait);
  REQUIRE(later);
  CHECK(later->status == 202);
  CHECK(later->body == "later");
  CHECK_FALSE(c.Read(kNot));  // the second Send went nowhere
  REQUIRE(c.Send(Get("/now")));
  auto now = c.Read(kWait);
  REQUIRE(now);
  CHECK(now->body == "now");

  SECTION("a pipelined request waits until the one before it is answered") {
    REQUIRE(c.Send(Get("/first") + Get("/now")));
    REQUIRE(test::WaitFor([&] { return parked.size() == 2; }, kWait));
    CHECK_FALSE(c.Read(kNot));
    CHECK(parked.Path(1) == "/first");
    parked.At(1).Send(HttpResponse::Text(200, "first"));
    auto first = c.Read(kWait);
    auto second = c.Read(kWait);
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->body == "first");
    CHECK(second->body == "now");
  }
  SECTION("a reply dropped without an answer answers 500") {
    REQUIRE(c.Send(Get("/dropped")));
    REQUIRE(test::WaitFor([&] { return parked.size() == 2; }, kWait));
    reply = parked.At(0);  // keeps only the first
    parked.Clear();
    auto dropped = c.Read(kWait);
    REQUIRE(dropped);
    CHECK(dropped->status == 500);
  }
  SECTION("a client that goes away cancels its pending reply") {
    REQUIRE(c.Send(Get("/gone")));
    REQUIRE(test::WaitFor([&] { return parked.size() == 2; }, kWait));
    HttpReply gone = parked.At(1);
    CHECK_FALSE(gone.Cancelled());
    c.Close();
    CHECK(test::WaitFor([&] { return gone.Cancelled(); }, kWait));
    gone.Send(HttpResponse::Text(200, "to nobody"));  // harmless
    RawConnection next(server.port());
    REQUIRE(next.Send(Get("/now")));
    CHECK(next.Read(kWait));
  }
  SECTION("stopping the server cancels pending replies") {
    REQUIRE(c.Send(Get("/pending")));
    REQUIRE(test::WaitFor([&] { return parked.size() == 2; }, kWait));
    server.loop.Stop();
    CHECK(parked.At(1).Cancelled());
    parked.At(1).Send(HttpResponse::Text(200, "too late"));  // harmless
    CHECK(c.WaitClosed(kWait));
  }
}

}  // namespace sluice
