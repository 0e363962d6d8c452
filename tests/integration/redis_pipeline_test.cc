// postgres | redis end to end: the real sluice binary, the real PostgreSQL and Redis that
// scripts/test starts (the outage test runs its own Redis so it can stop it).
// Each test owns its PostgreSQL database and a Redis database number.
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "sinks/redis/redis_client.h"
#include "support/applied_state.h"
#include "support/own_redis.h"
#include "support/stdout_pipeline.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

using redis::RedisClient;
using redis::RedisUrl;
using std::chrono::milliseconds;
using std::chrono::seconds;

using Rows = std::map<std::string, std::map<std::string, std::string>>;  // key -> col -> text

std::string UrlFor(int db, int port = 0) {
  auto u = RedisUrl::Parse(RequireEnv("SLUICE_TEST_REDIS_URL"));
  REQUIRE(u.ok());
  RedisUrl url = u.value();
  url.db = db;
  if (port) url.port = port;
  return url.ToString();
}

std::unique_ptr<RedisClient> Client(const std::string& url) {
  auto u = RedisUrl::Parse(url);
  REQUIRE(u.ok());
  return std::make_unique<RedisClient>(u.value(), milliseconds(2000), milliseconds(10000));
}

void FlushDb(const std::string& url) {
  auto c = Client(url);
  REQUIRE(c->Connect().ok());
  REQUIRE(c->Command({"FLUSHDB"}).ok());
}

std::string Config(const TempDir& dir, const std::string& dsn, const std::string& url,
                   const std::string& sink_extra, const std::string& pipes) {
  return SluiceConfig(dir, dsn,
                      "  cache:\n    type: redis\n    url: \"" + url + "\"\n" + sink_extra, pipes);
}

std::unique_ptr<SluiceProcess> Start(const TempDir& dir) {
  return std::make_unique<SluiceProcess>(
      std::vector<std::string>{"run", "-c", dir.File("sluice.yaml")}, dir.File("stdout.log"),
      dir.File("stderr.log"));
}

// The table as the cache should hold it: "items:<id>" -> column -> text.
Rows TableRows(TestDb& db, const std::string& table, const std::vector<std::string>& cols) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < cols.size(); ++i) sql += (i ? ", " : "") + cols[i];
  Rows out;
  for (auto& row : db.Query(sql + " FROM " + table)) {
    auto& r = out[table + ":" + row[0]];
    for (size_t i = 0; i < cols.size(); ++i) r[cols[i]] = row[i];
  }
  return out;
}

// What Redis holds under "<prefix>*", read the way a user would, every value as text
// (NULL: "NULL"; hash: an absent field is NULL). Empty with `*ok` false if Redis is down.
Rows RedisRows(const std::string& url, const std::string& prefix, bool hash,
               const std::vector<std::string>& cols, bool* ok = nullptr) {
  if (ok) *ok = false;
  auto c = Client(url);
  Rows out;
  if (!c->Connect().ok()) return out;
  auto keys = c->Command({"KEYS", prefix + "*"});
  if (!keys.ok()) return out;
  redis::ArgList cmd;
  std::vector<redis::ArgList> cmds((*keys)->elements);
  std::vector<const redis::ArgList*> ptrs;
  std::vector<std::string> names;
  for (size_t i = 0; i < (*keys)->elements; ++i) {
    names.emplace_back((*keys)->element[i]->str, (*keys)->element[i]->len);
    cmds[i].Add(hash ? "HGETALL" : "GET");
    cmds[i].Add(names.back());
    ptrs.push_back(&cmds[i]);
  }
  std::vector<redis::ReplyPtr> replies;
  if (!c->Pipeline(ptrs, &replies).ok()) return out;
  for (size_t i = 0; i < names.size(); ++i) {
    auto& row = out[names[i]];
    for (const auto& col : cols) row[col] = "NULL";
    redisReply* r = replies[i].get();
    if (hash) {
      for (size_t f = 0; f + 1 < r->elements; f += 2) {
        row[r->element[f]->str] = std::string(r->element[f + 1]->str, r->element[f + 1]->len);
      }
    } else if (r->type == REDIS_REPLY_STRING) {
      auto doc = nlohmann::json::parse(std::string(r->str, r->len));
      for (auto& [k, v] : doc.items()) row[k] = AsText(v);
    }
  }
  if (ok) *ok = true;
  return out;
}

void RequireConverged(TestDb& db, const TempDir& dir, const std::string& url, bool hash,
                      seconds timeout = seconds(120)) {
  bool ok = WaitFor(
      [&] {
        return RedisRows(url, "items:", hash, kItemCols) == TableRows(db, "items", kItemCols);
      },
      timeout);
  if (!ok) {
    auto got = RedisRows(url, "items:", hash, kItemCols);
    auto want = TableRows(db, "items", kItemCols);
    size_t differ = 0;
    for (auto& [k, v] : want) differ += got.count(k) && got[k] == v ? 0 : 1;
    INFO("redis keys " << got.size() << ", table rows " << want.size() << ", rows missing or "
                       << "different " << differ << "\nstderr:\n"
                       << ReadFile(dir.File("stderr.log")));
    CHECK(ok);
  }
}

}  // namespace

TEST_CASE("PostgresRedis: 10,000-row snapshot then stream under writes equals the table",
          "[integration][redis]") {
  bool hash = GENERATE(false, true);
  TestDb db(hash ? "it_redis_snap_hash" : "it_redis_snap_json");
  CreateItems(db, 10000);
  TempDir dir("redis-snap");
  std::string url = UrlFor(hash ? 10 : 9);
  FlushDb(url);
  WriteFile(
      dir.File("sluice.yaml"),
      Config(dir, db.Dsn(), url, std::string("    format: ") + (hash ? "hash" : "json") + "\n",
             "  items: src.public.items | cache\n"));
  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 1500, hash ? 3 : 4, 10000);
  auto sluice = Start(dir);
  writer.join();
  RequireConverged(db, dir, url, hash);
  // Deleted rows have no key (RequireConverged compares key sets), only a tombstone.
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("PostgresRedis: Redis killed mid-stream and restarted, then the cache catches up",
          "[integration][redis]") {
  TestDb db("it_redis_outage");
  CreateItems(db, 3000);
  TempDir dir("redis-outage");
  OwnRedis server(dir.path());
  std::string url = server.Url(0);
  WriteFile(dir.File("sluice.yaml"),
            Config(dir, db.Dsn(), url, "", "  items: src.public.items | cache\n"));
  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 1000000, 5, 10000);
  auto sluice = Start(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "streaming from slot"); }, seconds(60)));
  REQUIRE(WaitFor([&] { return RedisRows(url, "items:", false, kItemCols).size() >= 2900; },
                  seconds(60)));
  server.Kill();
  // Writes go on while Redis is down; the sink retries until it is back.
  auto down_since = std::chrono::steady_clock::now();
  REQUIRE(WaitFor([&] { return LogHas(dir, "retrying"); }, seconds(30)));
  while (std::chrono::steady_clock::now() - down_since < seconds(4)) {
    WaitFor([] { return false; }, milliseconds(200));  // let the outage last several seconds
  }
  server.Start();
  WaitFor([] { return false; }, milliseconds(1500));  // more writes after the restart
  stop = true;
  writer.join();
  RequireConverged(db, dir, url, false);
  CHECK(LogHas(dir, "succeeded after"));
  CHECK(sluice->Running());
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("PostgresRedis: an update leaving a TOASTed column unchanged keeps its value",
          "[integration][redis]") {
  bool hash = GENERATE(false, true);
  TestDb db(hash ? "it_redis_toast_hash" : "it_redis_toast_json");
  db.Exec("CREATE TABLE docs (id int PRIMARY KEY, qty int, body text)");
  db.Exec("ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL");
  TempDir dir("redis-toast");
  std::string url = UrlFor(hash ? 12 : 11);
  FlushDb(url);
  WriteFile(
      dir.File("sluice.yaml"),
      Config(dir, db.Dsn(), url, std::string("    format: ") + (hash ? "hash" : "json") + "\n",
             "  docs: src.public.docs | cache key=\"doc:{id}\"\n"));
  auto sluice = Start(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "streaming from slot"); }, seconds(60)));
  db.Exec("INSERT INTO docs SELECT g, 1, repeat(md5(g::text), 200) FROM generate_series(1, 3) g");
  db.Exec("UPDATE docs SET qty = 2 WHERE id <= 2");
  std::vector<std::string> cols = {"id", "qty", "body"};
  auto want = [&] {
    Rows rows;
    for (auto& [k, v] : TableRows(db, "docs", cols)) rows["doc:" + k.substr(5)] = v;
    return rows;
  };
  REQUIRE(want()["doc:1"]["body"].size() == 6400);
  bool ok = WaitFor([&] { return RedisRows(url, "doc:", hash, cols) == want(); }, seconds(60));
  INFO(ReadFile(dir.File("stderr.log")));
  CHECK(ok);
  CHECK_FALSE(LogHas(dir, "no stored value to merge"));
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("PostgresRedis: TRUNCATE empties the table's keys, later rows arrive",
          "[integration][redis]") {
  TestDb db("it_redis_truncate");
  CreateItems(db, 2000);
  TempDir dir("redis-truncate");
  std::string url = UrlFor(13);
  FlushDb(url);
  WriteFile(dir.File("sluice.yaml"), Config(dir, db.Dsn(), url, "    format: hash\n",
                                            "  items: src.public.items | cache\n"));
  auto sluice = Start(dir);
  RequireConverged(db, dir, url, true);
  db.Exec("TRUNCATE items");
  db.Exec("INSERT INTO items VALUES (5, 'after', 1, 1)");
  RequireConverged(db, dir, url, true);
  CHECK(RedisRows(url, "items:", true, kItemCols).size() == 1);
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("PostgresRedis: clear errors for a bad key template and wrong credentials",
          "[integration][redis]") {
  TestDb db("it_redis_errors");
  db.Exec("CREATE TABLE items (id int PRIMARY KEY, name text)");
  db.Exec("INSERT INTO items VALUES (1, 'a')");
  TempDir dir("redis-errors");
  std::string url = UrlFor(14);
  auto run = [&](const std::vector<std::string>& args, const std::string& sink_url,
                 const std::string& pipe) {
    WriteFile(dir.File("sluice.yaml"), Config(dir, db.Dsn(), sink_url, "", "  p: " + pipe + "\n"));
    std::remove(dir.File("stderr.log").c_str());
    std::vector<std::string> full = args;
    full.push_back("-c");
    full.push_back(dir.File("sluice.yaml"));
    return RunSluice(full, dir.File("stdout.log"), dir.File("stderr.log"), seconds(60));
  };
  SECTION("a template column the pipeline does not carry stops the pipeline, naming it") {
    int code = run({"run"}, url, "src.public.items | select id | cache key=\"item:{name}\"");
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == 1);
    CHECK(LogHas(dir, "sink cache"));
    CHECK(LogHas(dir, "key template \"item:{name}\" names column name"));
  }
  SECTION("check --connect rejects a template column the pipeline drops, with its location") {
    int code = run({"check", "--connect"}, url,
                   "src.public.items | select id | cache key=\"item:{name}\"");
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == 1);
    // The message starts with the file and the line of the pipe, "  p: ...".
    std::string text = ReadFile(dir.File("sluice.yaml"));
    int line =
        1 + static_cast<int>(std::count(text.begin(), text.begin() + text.find("  p: "), '\n'));
    CHECK(LogHas(dir, dir.File("sluice.yaml") + ":" + std::to_string(line) + ":"));
    CHECK(LogHas(dir,
                 "pipeline p: sink cache: key template \"item:{name}\" names column name, "
                 "which src.public.items does not carry"));
  }
  SECTION("check --connect accepts a template column the pipeline carries") {
    int code = run({"check", "--connect"}, url, "src.public.items | cache key=\"item:{name}\"");
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == 0);
  }
  SECTION("a malformed template fails the check") {
    int code = run({"check", "--connect"}, url, "src.public.items | cache key=\"item:{id\"");
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == 1);
    CHECK(LogHas(dir, "sink cache"));
    CHECK(LogHas(dir, "is never closed"));
  }
  SECTION("wrong password") {
    auto admin = Client(url);
    REQUIRE(admin->Connect().ok());
    REQUIRE(admin->Command({"ACL", "SETUSER", "it_redis_user", "on", ">right", "~*", "&*", "+@all"})
                .ok());
    std::string bad = "redis://it_redis_user:wrong@" + url.substr(8);
    int code = run({"check", "--connect"}, bad, "src.public.items | cache");
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == 1);
    CHECK(LogHas(dir, "sink cache"));
    CHECK(LogHas(dir, "refused the credentials of user it_redis_user"));
    CHECK_FALSE(LogHas(dir, "wrong@"));
    code = run({"run"}, bad, "src.public.items | cache");
    CHECK(code == 1);
    CHECK(LogHas(dir, "refused the credentials"));
  }
}

}  // namespace sluice::test
