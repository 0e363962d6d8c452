// The HTTP server under idle, slow and too many connections, with fake handlers (no
// database): probes answer within a second while hundreds of idle and slow-header
// connections are open, the request deadline and the idle timeout close them, the
// connection limit closes the longest waiting one, and a slow scrape does not hold up
// a probe. Also the endpoints' answers and the token rule on the address actually bound.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/http_loop.h"
#include "runtime/http_server.h"
#include "support/raw_http.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Blocks callers of Wait() until Open(). Thread-safe.
class Gate {
 public:
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// HttpServer on 127.0.0.1:0 with a report of one healthy, streaming pipeline and a fixed
// scrape. `scrape_gate`, when set, holds /metrics until opened.
struct FakeServer {
  explicit FakeServer(HttpServerLimits limits, Gate* scrape_gate = nullptr,
                      const std::string& token = "")
      : server({"127.0.0.1:0", token, limits},
               {[] {
                  DaemonReport r;
                  PipelineReport p;
                  p.name = "p";
                  p.phase = SourcePhase::kStreaming;
                  r.pipelines.push_back(p);
                  return r;
                },
                [scrape_gate] {
                  if (scrape_gate) scrape_gate->Wait();
                  return std::string("# TYPE up gauge\nup 1\n");
                }},
               MetricScope(&metrics, {})) {
    REQUIRE(server.Start().ok());
  }
  double Closed(const std::string& reason) const;

  MetricsRegistry metrics;  // outlives the server
  HttpServer server;
};

struct Probe {
  int status = 0;
  double seconds = 0;
  std::string body;
};

// One GET on a new connection, as a liveness probe makes it, with a 1 s budget.
Probe Get(int port, const std::string& path, const std::string& token = "") {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(1, 0);
  if (!token.empty()) client.set_bearer_token_auth(token);
  auto start = Clock::now();
  auto res = client.Get(path.c_str());
  Probe p;
  p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (res) {
    p.status = res->status;
    p.body = res->body;
  }
  return p;
}

void CheckProbes(int port) {
  for (const char* path : {"/healthz", "/readyz"}) {
    Probe p = Get(port, path);
    INFO(path << " took " << p.seconds << " s");
    CHECK(p.status == 200);
    CHECK(p.seconds < 1.0);
  }
}

// Sends `request` one byte every `every` until it is sent or the server closes.
class SlowClient {
 public:
  SlowClient(int port, milliseconds every) : conn_(port) {
    first_byte_ = Clock::now();
    REQUIRE(conn_.Send("G"));
    thread_ = std::thread([this, every] {
      const std::string rest = "ET /healthz HTTP/1.1\r\nHost: slow\r\nX-Pad: 0123456789\r\n\r\n";
      for (char c : rest) {
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, every, [this] { return stop_; })) return;
        if (!conn_.Send(std::string(1, c))) return;
      }
    });
  }
  ~SlowClient() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    thread_.join();
  }
  RawConnection& conn() { return conn_; }
  Clock::time_point first_byte() const { return first_byte_; }

 private:
  RawConnection conn_;
  Clock::time_point first_byte_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// A series' value in `metrics`; -1 when it does not exist.
double MetricValueOf(const MetricsRegistry& metrics, const std::string& name,
                     const MetricLabels& labels = {}) {
  for (const MetricSample& s : metrics.Collect()) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return -1;
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double FakeServer::Closed(const std::string& reason) const {
  return MetricValueOf(metrics, "sluice_http_connections_closed_total", {{"reason", reason}});
}

}  // namespace

TEST_CASE(
    "HttpServer: /healthz and /readyz answer within 1 s beside 200 idle and 4 slow-header "
    "connections, which the request deadline and the idle timeout then close",
    "[integration][http]") {
  HttpServerLimits limits;
  limits.max_connections = 300;
  limits.request_timeout = milliseconds(3000);
  limits.idle_timeout = milliseconds(6000);
  FakeServer fake(limits);
  const int port = fake.server.port();
  const auto opened = Clock::now();
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(std::make_unique<RawConnection>(port));
  // A byte every 2 s: a read timeout that restarts with each byte never fires.
  std::vector<std::unique_ptr<SlowClient>> slow;
  for (int i = 0; i < 4; ++i)
    slow.push_back(std::make_unique<SlowClient>(port, milliseconds(2000)));

  // Probes while all of them are open, spread over the slow clients' first bytes.
  for (int round = 0; round < 3; ++round) {
    CheckProbes(port);
    std::this_thread::sleep_for(milliseconds(700));
  }
  REQUIRE(SecondsSince(opened) < 3.0);  // the slow ones were open throughout
  for (auto& s : slow) CHECK_FALSE(s->conn().Closed());

  for (auto& s : slow) {
    REQUIRE(s->conn().WaitClosed(milliseconds(5000)));
    double after = SecondsSince(s->first_byte());
    INFO("closed " << after << " s after its first byte; got: " << s->conn().dropped());
    CHECK(after >= 2.9);
    CHECK(after < 4.5);
    CHECK(s->conn().dropped().rfind("HTTP/1.1 408 ", 0) == 0);
  }
  CHECK(fake.Closed("deadline") == 4);

  // The idle ones are still open, and probes still pass, until the idle timeout.
  REQUIRE(SecondsSince(opened) < 5.5);
  size_t open = 0;
  for (auto& c : idle) open += c->Closed() ? 0 : 1;
  CHECK(open == 200);
  CheckProbes(port);
  for (auto& c : idle) REQUIRE(c->WaitClosed(milliseconds(5000)));
  double after = SecondsSince(opened);
  INFO("idle connections closed " << after << " s after they opened");
  CHECK(after >= 5.9);
  CHECK(after < 8.0);
  CHECK(fake.Closed("idle") == 200);
  for (auto& c : idle) CHECK(c->dropped().empty());  // closed without an answer
  CheckProbes(port);
}

TEST_CASE(
    "HttpServer: at max_connections the connection that waited longest for its request is "
    "closed, so probes still get through",
    "[integration][http]") {
  HttpServerLimits limits;
  limits.max_connections = 8;
  limits.idle_timeout = milliseconds(60000);
  FakeServer fake(limits);
  const int port = fake.server.port();
  auto open_is = [&](double n) {
    return WaitFor([&] { return MetricValueOf(fake.metrics, "sluice_http_connections_open") == n; },
                   milliseconds(5000));
  };
  // A probe on a new connection while 8 are open; it closes when answered.
  auto probe_at_limit = [&](const char* path) {
    REQUIRE(open_is(8));
    Probe p = Get(port, path);
    INFO(path << " took " << p.seconds << " s");
    CHECK(p.status == 200);
    CHECK(p.seconds < 1.0);
    REQUIRE(open_is(7));
  };
  std::vector<std::unique_ptr<RawConnection>> conns;
  auto connect = [&] { conns.push_back(std::make_unique<RawConnection>(port)); };
  for (int i = 0; i < 8; ++i) connect();
  REQUIRE(conns[3]->Send("GET /half"));  // half a request waits like an idle connection

  probe_at_limit("/healthz");
  CHECK(conns[0]->WaitClosed(milliseconds(5000)));
  connect();
  probe_at_limit("/readyz");
  CHECK(conns[1]->WaitClosed(milliseconds(5000)));
  CHECK(fake.Closed("limit") == 2);

  // A keep-alive connection goes to the back of the line once answered.
  REQUIRE(conns[2]->Send("GET /healthz HTTP/1.1\r\n\r\n"));
  auto answer = conns[2]->Read(milliseconds(5000));
  REQUIRE(answer);
  CHECK(answer->status == 200);
  connect();
  probe_at_limit("/healthz");
  CHECK(conns[3]->WaitClosed(milliseconds(5000)));  // the half request, next in line
  for (size_t i : {2, 4, 5, 6, 7, 8, 9}) {
    INFO("connection " << i);
    CHECK_FALSE(conns[i]->Closed());
  }
  CHECK(fake.Closed("limit") == 3);
}

TEST_CASE("HttpLoop: at max_connections with every connection being answered, a new one gets 503",
          "[integration][http]") {
  HttpServerLimits limits;
  limits.max_connections = 4;
  MetricsRegistry metrics;
  std::mutex mu;
  std::vector<HttpReply> parked;
  HttpLoop loop(
      limits,
      [&](HttpRequest, HttpReply reply) {
        std::lock_guard lock(mu);
        parked.push_back(std::move(reply));
      },
      MetricScope(&metrics, {}));
  auto addresses = ResolveListen({"127.0.0.1", 0});
  REQUIRE(addresses.ok());
  REQUIRE(loop.Listen(*addresses).ok());
  const int port = loop.bound().port();
  std::vector<std::unique_ptr<RawConnection>> busy;
  for (int i = 0; i < 4; ++i) {
    busy.push_back(std::make_unique<RawConnection>(port));
    REQUIRE(busy.back()->Send("GET /wait HTTP/1.1\r\n\r\n"));
  }
  REQUIRE(WaitFor(
      [&] {
        std::lock_guard lock(mu);
        return parked.size() == 4;
      },
      milliseconds(5000)));
  RawConnection refused(port);
  auto busy_answer = refused.Read(milliseconds(5000));
  REQUIRE(busy_answer);
  CHECK(busy_answer->status == 503);
  CHECK(refused.WaitClosed(milliseconds(5000)));
  CHECK(MetricValueOf(metrics, "sluice_http_connections_closed_total", {{"reason", "limit"}}) == 1);
  {
    std::lock_guard lock(mu);
    for (HttpReply& r : parked) r.Send(HttpResponse::Text(200, "done"));
  }
  for (auto& c : busy) {
    auto done = c->Read(milliseconds(5000));
    REQUIRE(done);
    CHECK(done->body == "done");
  }
}

TEST_CASE("HttpServer: a slow /metrics scrape does not hold up /healthz", "[integration][http]") {
  Gate gate;
  FakeServer fake(HttpServerLimits{}, &gate);
  RawConnection scrape(fake.server.port());
  REQUIRE(scrape.Send("GET /metrics HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(scrape.Read(milliseconds(300)));  // held by the gate
  CheckProbes(fake.server.port());
  gate.Open();
  auto answer = scrape.Read(milliseconds(5000));
  REQUIRE(answer);
  CHECK(answer->status == 200);
  CHECK(answer->Header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(answer->body == "# TYPE up gauge\nup 1\n");
}

TEST_CASE("HttpServer: the endpoints, their content types and the token", "[integration][http]") {
  FakeServer fake(HttpServerLimits{}, nullptr, "s3cret");
  const int port = fake.server.port();
  Probe health = Get(port, "/healthz");
  CHECK(health.status == 200);
  CHECK(nlohmann::json::parse(health.body)["healthy"] == true);
  Probe ready = Get(port, "/readyz");
  CHECK(ready.status == 200);
  CHECK(nlohmann::json::parse(ready.body)["pipelines"][0]["name"] == "p");
  CHECK(Get(port, "/status").status == 401);
  CHECK(Get(port, "/metrics").status == 401);
  CHECK(Get(port, "/status", "wrong").status == 401);
  Probe status = Get(port, "/status", "s3cret");
  CHECK(status.status == 200);
  CHECK(nlohmann::json::parse(status.body)["pipelines"][0]["phase"] == "streaming");
  CHECK(Get(port, "/metrics", "s3cret").body == "# TYPE up gauge\nup 1\n");
  CHECK(Get(port, "/nothing").status == 404);
  RawConnection bytes(port);  // a path that is not UTF-8 cannot break the JSON answer
  REQUIRE(bytes.Send("GET /%FF%FE HTTP/1.1\r\n\r\n"));
  auto not_utf8 = bytes.Read(milliseconds(5000));
  REQUIRE(not_utf8);
  CHECK(not_utf8->status == 404);
  RawConnection c(port);
  REQUIRE(
      c.Send("POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\nHEAD /readyz HTTP/1.1\r\n\r\n"));
  auto post = c.Read(milliseconds(5000));
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(post->Header("Allow") == "GET, HEAD");
  auto head = c.Read(milliseconds(5000), true);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->Header("Content-Type") == "application/json");
  CHECK(std::stoul(head->Header("Content-Length")) == ready.body.size());
}

TEST_CASE("HttpServer: without a token it serves only on an address that is loopback once bound",
          "[integration][http]") {
  auto start = [](const std::string& listen, const std::string& token) {
    HttpServer server({listen, token, {}}, {[] { return DaemonReport{}; }, [] { return ""; }});
    Status s = server.Start();
    int port = server.port();
    server.Stop();
    return std::make_pair(s, port);
  };
  for (const char* listen : {"127.0.0.1:0", "localhost:0", "[::1]:0"}) {
    INFO(listen);
    auto [status, port] = start(listen, "");
    CHECK(status.ok());
    CHECK(port > 0);
  }
  auto [open, unused] = start("0.0.0.0:0", "");
  CHECK(open.code() == StatusCode::kInvalidArgument);
  CHECK(open.message().find("is bound to 0.0.0.0:") != std::string::npos);
  CHECK(open.message().find("not a loopback address") != std::string::npos);
  CHECK(start("0.0.0.0:0", "t").first.ok());
  auto [evil, none] = start("127.evil.example:0", "");
  CHECK_FALSE(evil.ok());
  CHECK(evil.message().find("host '127.evil.example' ") != std::string::npos);
}

}  // namespace sluice::test
