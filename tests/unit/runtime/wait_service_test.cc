// /wait over the event-driven HTTP loop, with CommitWaiters fed by the test: parameters, the
// answers for each way a wait ends, the cap, and a client that hangs up.
#include "runtime/wait_service.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/http_loop.h"
#include "support/raw_http.h"
#include "support/test_env.h"

namespace sluice {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using test::RawConnection;

const milliseconds kWait(5000);  // for what must happen
const milliseconds kNot(200);    // for what must not

std::string Get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
}

// A WaitService for pipelines "p" (sinks cache, search), "kafka" (no commit positions) and
// "broken" (could not start), served by an HttpLoop on a port of its own.
struct Fixture {
  explicit Fixture(size_t max_waiters = 100)
      : waiters(
            {"cache", "search"},
            [](size_t i) {
              return i == 0 ? SinkHealth{false, "flush failed: connection refused"} : SinkHealth{};
            }),
        service({{"p", &waiters, "", 503},
                 {"kafka", nullptr, "pipeline kafka reads a kafka source", 400},
                 {"broken", nullptr, "pipeline broken could not start: boom", 503}},
                max_waiters),
        loop({}, [this](HttpRequest request, HttpReply reply) {
          service.Handle(request, std::move(reply));
        }) {
    service.Start();
    auto addresses = ResolveListen({"127.0.0.1", 0});
    REQUIRE(addresses.ok());
    REQUIRE(loop.Listen(*addresses).ok());
  }
  ~Fixture() {
    loop.Stop();
    service.Stop();
  }
  int port() const { return loop.bound().port(); }
  // One request on a fresh connection; its answer, or status 0.
  test::RawAnswer Ask(const std::string& target, milliseconds timeout = kWait) {
    RawConnection c(port());
    REQUIRE(c.Send(Get(target)));
    return c.Read(timeout).value_or(test::RawAnswer{});
  }

  CommitWaiters waiters;
  WaitService service;
  HttpLoop loop;
};

}  // namespace

TEST_CASE("ParseWaitQuery: parameters, defaults and mistakes", "[unit][wait]") {
  auto q = ParseWaitQuery("pipeline=orders&lsn=16%2FB374D848&sink=cache,search&timeout=250ms");
  REQUIRE(q.ok());
  CHECK(q->pipeline == "orders");
  CHECK(q->lsn == Lsn((uint64_t{0x16} << 32) | 0xB374D848));
  CHECK(q->sinks == std::vector<std::string>{"cache", "search"});
  CHECK(q->timeout == milliseconds(250));

  auto plain = ParseWaitQuery("lsn=0/10&pipeline=p&sink=a&sink=b");
  REQUIRE(plain.ok());
  CHECK(plain->timeout == kDefaultWaitTimeout);
  CHECK(plain->sinks == std::vector<std::string>{"a", "b"});
  CHECK(ParseWaitQuery("pipeline=p&lsn=0/10&timeout=2").value().timeout == milliseconds(2000));

  for (const char* bad : {"lsn=0/10", "pipeline=p", "pipeline=p&lsn=10", "pipeline=p&lsn=x/y",
                          "pipeline=p&lsn=0/1&timeout=0s", "pipeline=p&lsn=0/1&timeout=6m",
                          "pipeline=p&lsn=0/1&timeout=soon", "pipeline=p&lsn=0/1&timout=5s"}) {
    INFO(bad);
    auto r = ParseWaitQuery(bad);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(ParseWaitQuery("pipeline=p&lsn=0/1&timout=5s").status().message().find("timout") !=
        std::string::npos);
}

TEST_CASE("WaitService: answers 200 once the sinks have the LSN, not before", "[unit][wait]") {
  Fixture f;
  RawConnection all(f.port());
  RawConnection search(f.port());
  REQUIRE(all.Send(Get("/wait?pipeline=p&lsn=0/100")));
  REQUIRE(search.Send(Get("/wait?pipeline=p&lsn=0/100&sink=search")));
  REQUIRE(test::WaitFor([&] { return f.service.waiting() == 2; }, kWait));
  f.waiters.SinkDurable(1, Lsn(0x100));
  auto a = search.Read(kWait);
  REQUIRE(a);
  CHECK(a->status == 200);
  json body = json::parse(a->body);
  CHECK(body["durable"] == true);
  CHECK(body["lsn"] == "0/100");
  CHECK(body["sinks"] == json::parse(R"([{"name":"search","durable_lsn":"0/100"}])"));
  CHECK_FALSE(all.Read(kNot));  // cache has not
  f.waiters.SinkDurable(0, Lsn(0x180));
  auto b = all.Read(kWait);
  REQUIRE(b);
  CHECK(b->status == 200);
  CHECK(json::parse(b->body)["sinks"].size() == 2);
  CHECK(f.service.waiting() == 0);
  // Already durable: at once, on the same connection.
  REQUIRE(all.Send(Get("/wait?pipeline=p&lsn=0/100")));
  auto c = all.Read(kWait);
  REQUIRE(c);
  CHECK(c->status == 200);
}

TEST_CASE("WaitService: 408 after the timeout, naming the sink that is behind and why",
          "[unit][wait]") {
  Fixture f;
  f.waiters.SinkDurable(1, Lsn(0x200));
  auto start = std::chrono::steady_clock::now();
  auto a = f.Ask("/wait?pipeline=p&lsn=0/200&timeout=300ms");
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(a.status == 408);
  CHECK(took >= milliseconds(300));
  CHECK(took < milliseconds(3000));
  json body = json::parse(a.body);
  CHECK(body["durable"] == false);
  const std::string error = body["error"];
  CHECK(error.find("sink cache has made changes up to 0/0 durable and is down: flush failed: "
                   "connection refused") != std::string::npos);
  CHECK(error.find("search") == std::string::npos);  // it has the LSN
  CHECK(body["sinks"][0]["up"] == false);
  CHECK(body["sinks"][1]["durable_lsn"] == "0/200");
}

TEST_CASE("WaitService: 400, 404 and 503 for what it cannot wait on", "[unit][wait]") {
  Fixture f;
  CHECK(f.Ask("/wait?pipeline=p").status == 400);
  CHECK(f.Ask("/wait?pipeline=p&lsn=0/1&sink=nope").status == 400);
  CHECK(f.Ask("/wait?pipeline=nope&lsn=0/1").status == 404);
  auto kafka = f.Ask("/wait?pipeline=kafka&lsn=0/1");
  CHECK(kafka.status == 400);
  CHECK(kafka.body.find("kafka source") != std::string::npos);
  CHECK(f.Ask("/wait?pipeline=broken&lsn=0/1").status == 503);
  f.waiters.Close("failed: source: slot gone");
  auto closed = f.Ask("/wait?pipeline=p&lsn=0/1");
  CHECK(closed.status == 503);
  CHECK(closed.body.find("slot gone") != std::string::npos);
}

TEST_CASE("WaitService: beyond max_waiters a wait gets 503, and a hang-up frees its place",
          "[unit][wait]") {
  Fixture f(3);
  std::vector<std::unique_ptr<RawConnection>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<RawConnection>(f.port()));
    REQUIRE(open.back()->Send(Get("/wait?pipeline=p&lsn=0/100&timeout=60s")));
  }
  REQUIRE(test::WaitFor([&] { return f.service.waiting() == 3; }, kWait));
  auto over = f.Ask("/wait?pipeline=p&lsn=0/100");
  CHECK(over.status == 503);
  CHECK(over.Header("Retry-After") == "1");
  open[0]->Close();  // dropped by the timer's next sweep, within about a second
  CHECK(test::WaitFor([&] { return f.service.waiting() == 2; }, kWait));
  RawConnection again(f.port());
  REQUIRE(again.Send(Get("/wait?pipeline=p&lsn=0/100")));
  REQUIRE(test::WaitFor([&] { return f.service.waiting() == 3; }, kWait));
  f.waiters.SinkDurable(0, Lsn(0x100));
  f.waiters.SinkDurable(1, Lsn(0x100));
  for (size_t i = 1; i < open.size(); ++i) CHECK(open[i]->Read(kWait).value().status == 200);
  CHECK(again.Read(kWait).value().status == 200);
}

}  // namespace sluice
