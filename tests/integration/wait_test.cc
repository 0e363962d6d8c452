// /wait and `sluice wait` against the real sluice, PostgreSQL and Redis: read-your-writes
// through Redis, a Redis that is down (408 with the reason), a commit the pipeline does not
// read (an idle stream), and 2,000 waits at once (no thread each, bounded memory).
// Redis databases 40-43 are this file's.
#include <hiredis/hiredis.h>
#include <httplib.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "http_support.h"
#include "sinks/redis/redis_client.h"
#include "support/own_redis.h"
#include "support/raw_http.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using nlohmann::json;
using redis::RedisClient;
using redis::RedisUrl;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string RedisUrlFor(int db) {
  auto u = RedisUrl::Parse(RequireEnv("SLUICE_TEST_REDIS_URL"));
  REQUIRE(u.ok());
  RedisUrl url = u.value();
  url.db = db;
  return url.ToString();
}

std::unique_ptr<RedisClient> Connect(const std::string& url) {
  auto u = RedisUrl::Parse(url);
  REQUIRE(u.ok());
  auto c = std::make_unique<RedisClient>(u.value(), milliseconds(2000), milliseconds(5000));
  REQUIRE(c->Connect().ok());
  return c;
}

// A config whose pipeline `items` reads `items` into Redis at `url` as items:{id}; `http`:
// more lines of the http section.
std::string WaitConfig(const TempDir& dir, TestDb& db, const std::string& url,
                       const std::string& http = "") {
  return WithHttp(
      SluiceConfig(dir, db.Dsn(), "  cache:\n    type: redis\n    url: \"" + url + "\"\n",
                   "  items: src.public.items | cache key=\"items:{id}\"\n"),
      "127.0.0.1:0", http);
}

std::string InsertLsn(TestDb& db) { return db.Query("SELECT pg_current_wal_insert_lsn()")[0][0]; }

std::string WaitPath(const std::string& lsn, const std::string& more = "") {
  return "/wait?pipeline=items&lsn=" + lsn + more;
}

// A field of /proc/PID/status ("VmRSS", "Threads"), as a number (kB for sizes).
int64_t ProcStatus(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  FAIL("no " << field << " in /proc/" << pid << "/status");
  return 0;
}

}  // namespace

TEST_CASE("Wait: 1,000 writes, each read from Redis after /wait, each read sees its own write",
          "[integration][wait]") {
  TestDb db("it_wait_ryw");
  CreateItems(db, 50);
  db.Exec("CREATE TABLE other (id int PRIMARY KEY)");  // not piped
  TempDir dir("wait-ryw");
  const std::string url = RedisUrlFor(40);
  Connect(url)->Command({"FLUSHDB"}).value();
  WriteFile(dir.File("sluice.yaml"), WaitConfig(dir, db, url));
  auto sluice = StartSluice(dir);
  int port = HttpPort(dir);
  REQUIRE(WaitFor([&] { return HttpGet(port, "/readyz").status == 200; }, seconds(60)));

  httplib::Client http("127.0.0.1", port);  // one keep-alive connection, as an application's
  http.set_read_timeout(10, 0);
  auto cache = Connect(url);
  int stale = 0, not_200 = 0;
  double slowest_ms = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string name = "write " + std::to_string(i);
    const int id = i % 2 == 0 ? 1000 + i : 1 + i % 50;
    if (i % 2 == 0) {
      db.Exec("INSERT INTO items VALUES (" + std::to_string(id) + ", '" + name + "', 1, 1)");
    } else {
      db.Exec("UPDATE items SET name = '" + name + "' WHERE id = " + std::to_string(id));
    }
    if (i % 10 == 9) db.Exec("INSERT INTO other VALUES (" + std::to_string(i) + ")");
    const std::string lsn = InsertLsn(db);
    auto answer = http.Get(WaitPath(lsn));
    if (!answer || answer->status != 200) {
      ++not_200;
      INFO("wait " << i << " for " << lsn << ": "
                   << (answer ? std::to_string(answer->status) + " " + answer->body : "no answer"));
      CHECK(not_200 == 0);
      continue;
    }
    slowest_ms = std::max(slowest_ms, json::parse(answer->body)["waited_ms"].get<double>());
    auto value = cache->Command({"GET", "items:" + std::to_string(id)});
    REQUIRE(value.ok());
    redisReply* r = value->get();
    std::string got = r->type == REDIS_REPLY_STRING
                          ? json::parse(std::string(r->str, r->len)).value("name", "")
                          : "(nothing)";
    if (got != name) {
      ++stale;
      INFO("write " << i << " at " << lsn << ": Redis has " << got);
      CHECK(stale == 0);
    }
  }
  CHECK(not_200 == 0);
  CHECK(stale == 0);
  WARN("slowest wait: " << slowest_ms << " ms");
}

TEST_CASE("Wait: with Redis stopped, /wait times out with 408 and says why, and then it ends",
          "[integration][wait]") {
  TestDb db("it_wait_down");
  CreateItems(db, 10);
  TempDir dir("wait-down");
  OwnRedis redis(dir.path());
  WriteFile(dir.File("sluice.yaml"), WaitConfig(dir, db, redis.Url(0)));
  auto sluice = StartSluice(dir);
  int port = HttpPort(dir);
  REQUIRE(WaitFor([&] { return HttpGet(port, "/readyz").status == 200; }, seconds(60)));

  redis.Kill();
  db.Exec("UPDATE items SET name = 'while down' WHERE id = 1");
  const std::string lsn = InsertLsn(db);
  REQUIRE(WaitFor([&] { return HttpGet(port, "/readyz").status == 503; }, seconds(30)));
  auto start = std::chrono::steady_clock::now();
  HttpAnswer timed_out = HttpGet(port, WaitPath(lsn, "&timeout=1500ms"));
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(timed_out.status == 408);
  CHECK(took >= milliseconds(1500));
  json body = json::parse(timed_out.body);
  const std::string error = body.value("error", "");
  INFO(timed_out.body);
  CHECK(error.find("timed out after 1500 ms") != std::string::npos);
  CHECK(error.find("sink cache has made changes up to") != std::string::npos);
  CHECK(error.find("is down") != std::string::npos);
  CHECK(body["sinks"][0]["up"] == false);

  // `sluice wait` says the same and exits 1.
  const std::string address = "127.0.0.1:" + std::to_string(port);
  int rc = RunSluice(
      {"wait", "--address", address, "--pipeline", "items", "--lsn", lsn, "--timeout", "1s"},
      dir.File("wait.out"), dir.File("wait.err"), seconds(30));
  CHECK(rc == 1);
  CHECK(ReadFile(dir.File("wait.err")).find("HTTP 408") != std::string::npos);

  redis.Start();
  HttpAnswer done = HttpGet(port, WaitPath(lsn, "&timeout=8s"));
  CHECK(done.status == 200);
  rc = RunSluice({"wait", "--address", address, "--pipeline", "items", "--lsn", lsn},
                 dir.File("wait2.out"), dir.File("wait2.err"), seconds(30));
  CHECK(rc == 0);
  CHECK(ReadFile(dir.File("wait2.out")).find("is durable") != std::string::npos);
  rc = RunSluice({"wait", "--address", address, "--pipeline", "nope", "--lsn", lsn},
                 dir.File("wait3.out"), dir.File("wait3.err"), seconds(30));
  CHECK(rc == 2);
  CHECK(ReadFile(dir.File("wait3.err")).find("no pipeline named nope") != std::string::npos);
}

TEST_CASE("Wait: a commit to a table the pipeline does not read ends the wait too",
          "[integration][wait]") {
  // The application's LSN lies past the last commit the pipeline saw: only the source's
  // idle position can say it is covered.
  TestDb db("it_wait_idle");
  CreateItems(db, 10);
  db.Exec("CREATE TABLE other (id int PRIMARY KEY)");
  TempDir dir("wait-idle");
  const std::string url = RedisUrlFor(41);
  WriteFile(dir.File("sluice.yaml"), WaitConfig(dir, db, url));
  auto sluice = StartSluice(dir);
  int port = HttpPort(dir);
  REQUIRE(WaitFor([&] { return HttpGet(port, "/readyz").status == 200; }, seconds(60)));
  for (int i = 0; i < 5; ++i) {
    db.Exec("INSERT INTO other VALUES (" + std::to_string(i) + ")");
    const std::string lsn = InsertLsn(db);
    HttpAnswer a = HttpGet(port, WaitPath(lsn, "&timeout=8s"));
    INFO("round " << i << ": " << a.body);
    CHECK(a.status == 200);
  }
}

TEST_CASE("Wait: 2,000 waits at once cost no thread each and bounded memory, and all are answered",
          "[integration][wait]") {
  TestDb db("it_wait_many");
  CreateItems(db, 10);
  TempDir dir("wait-many");
  const std::string url = RedisUrlFor(42);
  WriteFile(dir.File("sluice.yaml"),
            WaitConfig(dir, db, url, "  max_connections: 4096\n  max_waiters: 3000\n"));
  auto sluice = StartSluice(dir);
  int port = HttpPort(dir);
  REQUIRE(WaitFor([&] { return HttpGet(port, "/readyz").status == 200; }, seconds(60)));
  // A position no commit has reached yet: past the end of WAL now, and past what a position
  // reaches (PostgreSQL: 24 bytes, where no commit can end).
  auto now = Lsn::Parse(InsertLsn(db));
  REQUIRE(now);
  const std::string future = Lsn(now->value() + 256).ToString();

  const int64_t rss_before = ProcStatus(sluice->pid(), "VmRSS");
  const int64_t threads_before = ProcStatus(sluice->pid(), "Threads");
  constexpr int kWaiters = 2000;
  std::vector<std::unique_ptr<RawConnection>> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(std::make_unique<RawConnection>(port));
    REQUIRE(waiters.back()->Send("GET " + WaitPath(future, "&timeout=120s") +
                                 " HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  auto open = [&] {
    auto v = MetricValue(HttpGet(port, "/metrics").body, "sluice_waits_open");
    return v.value_or(-1);
  };
  REQUIRE(WaitFor([&] { return open() == kWaiters; }, seconds(180)));
  const int64_t rss_waiting = ProcStatus(sluice->pid(), "VmRSS");
  const int64_t threads_waiting = ProcStatus(sluice->pid(), "Threads");
  WARN("RSS " << rss_before << " kB before, " << rss_waiting << " kB with " << kWaiters
              << " waits (" << (rss_waiting - rss_before) * 1024 / kWaiters
              << " bytes each, sanitizer build); threads " << threads_before << " -> "
              << threads_waiting);
  CHECK(threads_waiting == threads_before);
  // Each waiting request: a connection (socket, buffers) and a small waiter. Bounded at
  // 16 kB each in this sanitizer build, whose allocations carry red zones.
  CHECK(rss_waiting - rss_before < int64_t{kWaiters} * 16);
  for (int i = 0; i < 5; ++i) {
    INFO("waiter " << i);
    CHECK_FALSE(waiters[static_cast<size_t>(i)]->Read(milliseconds(0)));
  }

  // One commit whose WAL goes past that position.
  db.Exec("INSERT INTO items SELECT g, repeat('x', 200), 1, 1 FROM generate_series(100, 150) g");
  int ok = 0;
  for (auto& w : waiters) {
    auto a = w->Read(seconds(30));
    if (a && a->status == 200) ++ok;
  }
  CHECK(ok == kWaiters);
  CHECK(open() == 0);
}

}  // namespace sluice::test
