// `sluice verify` against running pipelines: the real sluice binary, the real PostgreSQL and
// Redis that scripts/test starts, and the Elasticsearch test server (or SLUICE_TEST_ES_URL).
// Each sink is corrupted behind sluice's back (a changed value, a removed entry, an entry for
// a row that does not exist); verify must name each, and --repair must fix them.
#include <hiredis/hiredis.h>
#include <httplib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sinks/redis/redis_client.h"
#include "support/es_target.h"
#include "support/stdout_pipeline.h"
#include "support/test_env.h"
#include "support/verify_run.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

std::unique_ptr<redis::RedisClient> Redis(const std::string& url) {
  auto u = redis::RedisUrl::Parse(url);
  REQUIRE(u.ok());
  auto c = std::make_unique<redis::RedisClient>(u.value(), std::chrono::milliseconds(2000),
                                                std::chrono::milliseconds(10000));
  REQUIRE(c->Connect().ok());
  return c;
}

size_t KeyCount(redis::RedisClient& c, const std::string& pattern) {
  auto keys = c.Command({"KEYS", pattern});
  REQUIRE(keys.ok());
  return (*keys)->elements;
}

void RequireClean(const TempDir& dir) {
  VerifyOutcome clean = RunVerify(dir);
  INFO(clean.out);
  CHECK(clean.code == 0);
  CHECK(Has(clean, "every verified sink equals the source"));
}

}  // namespace

TEST_CASE(
    "Verify: Redis json and hash caches, corrupted behind sluice's back, are found and "
    "repaired",
    "[integration][redis][verify]") {
  TestDb db("it_verify_redis");
  CreateItems(db, 300);
  auto u = redis::RedisUrl::Parse(RequireEnv("SLUICE_TEST_REDIS_URL"));
  REQUIRE(u.ok());
  redis::RedisUrl url_parts = u.value();
  url_parts.db = 15;
  std::string url = url_parts.ToString();
  auto redis = Redis(url);
  REQUIRE(redis->Command({"FLUSHDB"}).ok());
  TempDir dir("verify-redis");
  // Two caches of one table in one database: the readers must keep to their own keys.
  WriteFile(dir.File("sluice.yaml"),
            SluiceConfig(dir, db.Dsn(),
                         "  cache:\n    type: redis\n    url: \"" + url +
                             "\"\n  hcache:\n    type: redis\n    url: \"" + url +
                             "\"\n    format: hash\n    key: \"h:{id}\"\n",
                         "  json: src.public.items | cache\n"
                         "  hashed: src.public.items | hcache\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(
      WaitFor([&] { return KeyCount(*redis, "items:*") == 300 && KeyCount(*redis, "h:*") == 300; },
              seconds(120)));
  db.Exec("UPDATE items SET name = 'streamed ' || id WHERE id <= 20");
  db.Exec("DELETE FROM items WHERE id BETWEEN 21 AND 25");

  RequireClean(dir);
  CHECK(KeyCount(*redis, "items:*") == 295);

  // A changed value, a removed entry, and an entry for a row that never existed (at an old
  // position, as a lost delete would leave it).
  REQUIRE(
      redis->Command({"SET", "items:30", R"({"id":30,"name":"stale","qty":1,"price":"1"})"}).ok());
  REQUIRE(redis->Command({"DEL", "items:31", "sluice:pos:src.public.items:items:31"}).ok());
  REQUIRE(redis->Command({"SET", "items:9999", R"({"id":9999,"name":"ghost"})"}).ok());
  REQUIRE(redis
              ->Command({"SET", "sluice:pos:src.public.items:items:9999",
                         "00000000000000010000000000000000"})
              .ok());
  REQUIRE(redis->Command({"HSET", "h:32", "name", "stale"}).ok());

  RequireFoundThenRepaired(dir,
                           {"different id=30: column name", "missing id=31", "extra items:9999",
                            "different id=32: column name"},
                           4);
  auto ghost = redis->Command({"EXISTS", "items:9999"});
  REQUIRE(ghost.ok());
  CHECK((*ghost)->integer == 0);
  auto row31 = redis->Command({"GET", "items:31"});
  REQUIRE(row31.ok());
  REQUIRE((*row31)->type == REDIS_REPLY_STRING);
  CHECK(nlohmann::json::parse(std::string((*row31)->str, (*row31)->len))["name"] == "item 31");

  // Verify reads a running pipeline: sluice kept streaming through all of it.
  db.Exec("UPDATE items SET qty = 7 WHERE id = 40");
  RequireClean(dir);
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("Verify: an Elasticsearch index corrupted behind sluice's back is found and repaired",
          "[integration][elasticsearch][verify]") {
  TestDb db("it_verify_es");
  CreateItems(db, 300);
  EsTarget es("verify");
  std::string index = es.Index("items");
  TempDir dir("verify-es");
  WriteFile(dir.File("sluice.yaml"),
            SluiceConfig(dir, db.Dsn(),
                         "  search:\n    type: elasticsearch\n    url: " + es.url() +
                             "\n    index: " + index + "\n",
                         "  items: src.public.items | search\n", "    toast: lookup\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return es.Count(index) == 300; }, seconds(120)));
  db.Exec("UPDATE items SET name = 'streamed ' || id WHERE id <= 20");

  RequireClean(dir);

  // Internal versioning bumps the stored version by one: still far below the verify point.
  std::string bulk = R"({"index":{"_index":")" + index + R"(","_id":"30"}})" + "\n" +
                     R"({"id":30,"name":"stale","qty":1,"price":"1"})" + "\n" +
                     R"({"delete":{"_index":")" + index + R"(","_id":"31"}})" + "\n" +
                     R"({"index":{"_index":")" + index +
                     R"(","_id":"9999","version":1,"version_type":"external"}})" + "\n" +
                     R"({"id":9999,"name":"ghost"})" + "\n";
  httplib::Client http(es.url());
  auto posted = http.Post("/_bulk?refresh=true", bulk, "application/x-ndjson");
  REQUIRE(posted);
  REQUIRE(posted->status == 200);
  REQUIRE(nlohmann::json::parse(posted->body)["errors"] == false);

  RequireFoundThenRepaired(dir, {"different id=30: field name", "missing id=31", "extra 9999"}, 3);
  CHECK(!es.Get(index, "9999"));
  auto doc = es.Get(index, "30");
  REQUIRE(doc);
  CHECK((*doc)["name"] == "item 30");
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("Verify: a JSON-lines file edited behind sluice's back is found and repaired",
          "[integration][verify]") {
  TestDb db("it_verify_file");
  CreateItems(db, 300);
  TempDir dir("verify-file");
  WriteFile(dir.File("sluice.yaml"),
            StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) >= 300; }, seconds(120)));
  db.Exec("UPDATE items SET name = 'streamed ' || id WHERE id <= 20");
  db.Exec("DELETE FROM items WHERE id = 21");

  RequireClean(dir);
  // Progress on stderr, which is a file here: plain lines (no redraw), the table's last one
  // with every row checked. 299 rows after the delete; ANALYZE gave no estimate yet.
  {
    const std::string err = ReadFile(dir.File("verify.err"));
    INFO(err);
    CHECK(err.find("verify items src.public.items: 299 rows checked, done\n") != std::string::npos);
    CHECK(err.find('\r') == std::string::npos);
  }

  // In place, so the sink's append-only descriptor stays valid: a changed value, the lines
  // of one key blanked (a consumer skips them), and a line for a row that never existed.
  std::string text = ReadFile(dir.File("out.jsonl"));
  auto edit = [&](const std::string& needle, const std::function<void(size_t, size_t)>& f) {
    size_t at = text.find(needle);
    REQUIRE(at != std::string::npos);
    size_t begin = text.rfind('\n', at) + 1;
    f(begin, text.find('\n', at));
  };
  edit(R"("name":"item 30")", [&](size_t b, size_t) {
    size_t n = text.find("item 30", b);
    text.replace(n, 7, "XXXX 30");
  });
  edit(R"("key":{"id":31})", [&](size_t b, size_t e) { text.replace(b, e - b, e - b, ' '); });
  std::FILE* f = std::fopen(dir.File("out.jsonl").c_str(), "r+");
  REQUIRE(f);
  REQUIRE(std::fwrite(text.data(), 1, text.size(), f) == text.size());
  std::fclose(f);
  f = std::fopen(dir.File("out.jsonl").c_str(), "a");
  REQUIRE(f);
  std::fputs(R"({"op":"insert","source":"src","schema":"public","table":"items","key":{"id":9999},)"
             R"("after":{"id":9999,"name":"ghost","qty":1,"price":"1.000"},"lsn":"0/1","seq":0,)"
             R"("commit_time":null,"xid":1})"
             "\n",
             f);
  std::fclose(f);

  RequireFoundThenRepaired(dir, {"different id=30", "missing id=31", "extra line at byte"}, 3);
  // A consumer applying the file now has the table: the repair's delete names the key as
  // the lines before it did (a number, not the text "9999").
  RequireConverged(db, dir);
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

}  // namespace sluice::test
