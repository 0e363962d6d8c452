// postgres | kafka and kafka | redis end to end: the real sluice binary, the real PostgreSQL
// and Redis that scripts/test starts, and librdkafka's mock cluster in this test process (on
// loopback ports of its own). Each test owns its database, topics and Redis database
// (16 to 20; redis_sink_test has 1 to 8 and 21, redis_pipeline_test 9 to 14, verify_test 15).
#include <hiredis/hiredis.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "sinks/redis/redis_client.h"
#include "support/applied_state.h"
#include "support/kafka_mock.h"
#include "support/stdout_pipeline.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

using Rows = std::map<std::string, std::map<std::string, std::string>>;  // key -> col -> text

std::string RedisUrlFor(int db) {
  auto u = redis::RedisUrl::Parse(RequireEnv("SLUICE_TEST_REDIS_URL"));
  REQUIRE(u.ok());
  redis::RedisUrl url = u.value();
  url.db = db;
  return url.ToString();
}

std::unique_ptr<redis::RedisClient> RedisAt(const std::string& url) {
  auto u = redis::RedisUrl::Parse(url);
  REQUIRE(u.ok());
  return std::make_unique<redis::RedisClient>(u.value(), milliseconds(2000), milliseconds(10000));
}

void FlushRedis(const std::string& url) {
  auto c = RedisAt(url);
  REQUIRE(c->Connect().ok());
  REQUIRE(c->Command({"FLUSHDB"}).ok());
}

// "items:<id>" -> column -> text, as the redis sink's json format holds it.
Rows RedisItems(const std::string& url) {
  Rows out;
  auto c = RedisAt(url);
  if (!c->Connect().ok()) return out;
  auto keys = c->Command({"KEYS", "items:*"});
  if (!keys.ok()) return out;
  for (size_t i = 0; i < (*keys)->elements; ++i) {
    std::string name((*keys)->element[i]->str, (*keys)->element[i]->len);
    auto v = c->Command({"GET", name});
    if (!v.ok() || (*v)->type != REDIS_REPLY_STRING) continue;
    auto& row = out[name];
    for (const auto& col : kItemCols) row[col] = "NULL";
    json doc = json::parse(std::string((*v)->str, (*v)->len));
    for (auto& [k, val] : doc.items()) row[k] = AsText(val);
  }
  return out;
}

Rows TableItems(TestDb& db) {
  Rows out;
  for (auto& row : db.Query("SELECT id, name, qty, price FROM items")) {
    auto& r = out["items:" + row[0]];
    for (size_t i = 0; i < kItemCols.size(); ++i) r[kItemCols[i]] = row[i];
  }
  return out;
}

void RequireRedisEqualsTable(TestDb& db, const std::string& url,
                             const std::vector<const TempDir*>& dirs,
                             seconds timeout = seconds(120)) {
  bool ok = WaitFor([&] { return RedisItems(url) == TableItems(db); }, timeout);
  if (!ok) {
    auto got = RedisItems(url);
    auto want = TableItems(db);
    size_t differ = 0;
    for (auto& [k, v] : want) differ += got.count(k) && got[k] == v ? 0 : 1;
    std::string logs;
    for (const TempDir* d : dirs)
      logs += "\n--- " + d->path() + ":\n" + ReadFile(d->File("stderr.log"));
    INFO("redis keys " << got.size() << ", table rows " << want.size() << ", missing or different "
                       << differ << logs);
    CHECK(ok);
  }
}

// A config with source `src` (postgres), source `bus` (kafka), sink `log` (kafka) and sink
// `cache` (redis), and the given pipelines.
std::string KafkaConfig(const TempDir& dir, const std::string& dsn, const KafkaMock& mock,
                        const std::string& redis_url, const std::string& pipes) {
  return "state_dir: " + dir.File("state") + "\nhttp:\n  listen: \"127.0.0.1:0\"\n" +
         "sources:\n"
         "  src:\n    type: postgres\n    dsn: \"" +
         dsn +
         "\"\n"
         "  bus:\n    type: kafka\n    brokers: \"" +
         mock.bootstraps() +
         "\"\n"
         "    commit_interval: 200ms\n"
         "    properties: [session.timeout.ms=6000, heartbeat.interval.ms=500]\n"
         "sinks:\n"
         "  log:\n    type: kafka\n    brokers: \"" +
         mock.bootstraps() + "\"\n    properties: [" + kOneProduceRequestInFlight +
         "]\n"
         "  cache:\n    type: redis\n    url: \"" +
         redis_url +
         "\"\n"
         "pipelines:\n" +
         pipes;
}

// Every message of `topic` as kcat prints it with -J (one JSON object per line).
std::vector<json> Kcat(const std::string& bootstraps, const std::string& topic) {
  std::string cmd =
      "kcat -b " + bootstraps + " -C -t " + topic + " -o beginning -e -J -q 2>/dev/null";
  std::vector<json> out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string line;
  char buf[65536];
  while (std::fgets(buf, sizeof(buf), p)) {
    line += buf;
    if (line.empty() || line.back() != '\n') continue;
    auto doc = json::parse(line, nullptr, false);
    if (!doc.is_discarded()) out.push_back(std::move(doc));
    line.clear();
  }
  ::pclose(p);
  return out;
}

// kcat -J prints headers as ["name","value",...] (or an object in some versions).
std::map<std::string, std::string> KcatHeaders(const json& m) {
  std::map<std::string, std::string> out;
  if (!m.contains("headers")) return out;
  const json& h = m["headers"];
  if (h.is_array()) {
    for (size_t i = 0; i + 1 < h.size(); i += 2)
      out[h[i].get<std::string>()] = h[i + 1].get<std::string>();
  } else if (h.is_object()) {
    for (auto& [k, v] : h.items()) out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace

TEST_CASE("KafkaPipeline: postgres | kafka then kafka | redis equals the table under writes",
          "[integration][kafka]") {
  bool debezium = GENERATE(false, true);
  std::string fmt = debezium ? "debezium" : "sluice";
  TestDb db("it_kafka_e2e_" + fmt);
  CreateItems(db, 3000);
  TempDir dir("kafka-e2e");
  KafkaMock mock;
  std::string topic = "e2e_" + fmt + ".items";
  mock.CreateTopic(topic, 4);
  std::string url = RedisUrlFor(debezium ? 17 : 16);
  FlushRedis(url);
  WriteFile(dir.File("sluice.yaml"),
            KafkaConfig(dir, db.Dsn(), mock, url,
                        "  to_kafka: src.public.items | log topic=\"" + topic + "\" format=" + fmt +
                            "\n  from_kafka: bus.e2e_" + fmt + ".items | cache\n"));
  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 1500, debezium ? 21 : 22, 3000);
  auto sluice = StartSluice(dir);
  writer.join();
  RequireRedisEqualsTable(db, url, {&dir});
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
  // Shutdown committed everything the sinks made durable.
  int64_t committed = 0;
  for (auto& [p, offset] : mock.Committed("sluice.from_kafka", topic))
    committed += std::max<int64_t>(offset, 0);
  CHECK(committed == static_cast<int64_t>(mock.ReadAll(topic).size()));
}

TEST_CASE("KafkaPipeline: broker errors while producing and consuming lose nothing, double nothing",
          "[integration][kafka]") {
  TestDb db("it_kafka_errors");
  CreateItems(db, 2000);
  TempDir dir("kafka-errors");
  KafkaMock mock;
  mock.CreateTopic("errs.items", 4);
  std::string url = RedisUrlFor(18);
  FlushRedis(url);
  WriteFile(dir.File("sluice.yaml"),
            KafkaConfig(dir, db.Dsn(), mock, url,
                        "  to_kafka: src.public.items | log topic=\"errs.items\"\n"
                        "  from_kafka: bus.errs.items | cache\n"));
  std::atomic<bool> stop{false};
  // Bounded: the mock cluster keeps only about 5 MB per partition.
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 2500, 23, 2000);
  auto sluice = StartSluice(dir);
  // Errors on every path, again and again, while the writes go on.
  for (int round = 0; round < 20; ++round) {
    mock.PushErrors(KafkaApi::kProduce, NotAppendedProduceErrors());
    mock.PushErrors(KafkaApi::kFetch, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                       RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT});
    mock.PushErrors(KafkaApi::kOffsetCommit, {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                              RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE});
    WaitFor([] { return false; }, milliseconds(250));
  }
  stop = true;
  writer.join();
  RequireRedisEqualsTable(db, url, {&dir});
  // The idempotent producer wrote each change once: no (key, position) twice in the topic.
  auto records = mock.ReadAll("errs.items");
  std::set<std::string> seen;
  for (const auto& r : records) {
    seen.insert(r.key.value_or("") + "@" + r.headers.at("sluice.lsn") + "/" +
                r.headers.at("sluice.seq"));
  }
  CHECK(seen.size() == records.size());
  CHECK(sluice->Running());
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("KafkaPipeline: two consumers split 6 partitions, one is killed, the other finishes",
          "[integration][kafka]") {
  TestDb db("it_kafka_group");
  CreateItems(db, 3000);
  TempDir producer_dir("kafka-group-p");
  TempDir c1_dir("kafka-group-c1");
  TempDir c2_dir("kafka-group-c2");
  KafkaMock mock;
  mock.CreateTopic("grp.items", 6);
  std::string url = RedisUrlFor(19);
  FlushRedis(url);
  WriteFile(producer_dir.File("sluice.yaml"),
            KafkaConfig(producer_dir, db.Dsn(), mock, url,
                        "  to_kafka: src.public.items | log topic=\"grp.items\"\n"));
  for (const TempDir* d : {&c1_dir, &c2_dir}) {
    WriteFile(d->File("sluice.yaml"),
              KafkaConfig(*d, db.Dsn(), mock, url, "  from_kafka: bus.grp.items | cache\n"));
  }
  auto c1 = StartSluice(c1_dir);
  auto c2 = StartSluice(c2_dir);
  // Both members hold partitions before the data flows.
  REQUIRE(WaitFor([&] { return LogHas(c1_dir, "assigned") && LogHas(c2_dir, "assigned"); },
                  seconds(60)));
  auto producer = StartSluice(producer_dir);
  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 4000, 24, 3000);
  REQUIRE(WaitFor([&] { return RedisItems(url).size() >= 1500; }, seconds(60)));
  c1->Signal(SIGKILL);
  c1->Wait(seconds(10));
  WaitFor([] { return false; }, milliseconds(2000));  // writes go on without c1
  stop = true;
  writer.join();
  RequireRedisEqualsTable(db, url, {&producer_dir, &c1_dir, &c2_dir});
  CHECK(c2->Running());
  CHECK(producer->Running());
  for (auto* p : {c2.get(), producer.get()}) {
    p->Signal(SIGTERM);
    CHECK(p->Wait(seconds(30)) == 0);
  }
}

TEST_CASE("KafkaPipeline: kcat reads what sluice wrote, in both formats", "[integration][kafka]") {
  TestDb db("it_kafka_kcat");
  CreateItems(db, 200);
  TempDir dir("kafka-kcat");
  KafkaMock mock;
  mock.CreateTopic("kc_sluice.items", 3);
  mock.CreateTopic("kc_debezium.items", 3);
  WriteFile(
      dir.File("sluice.yaml"),
      KafkaConfig(dir, db.Dsn(), mock, RedisUrlFor(20),
                  "  sl: src.public.items | log topic=\"kc_sluice.items\"\n"
                  "  dz: src.public.items | log topic=\"kc_debezium.items\" format=debezium\n"));
  auto sluice = StartSluice(dir);
  std::vector<json> sl, dz;
  bool ok = WaitFor(
      [&] {
        sl = Kcat(mock.bootstraps(), "kc_sluice.items");
        dz = Kcat(mock.bootstraps(), "kc_debezium.items");
        return sl.size() >= 200 && dz.size() >= 200;
      },
      seconds(60));
  INFO(ReadFile(dir.File("stderr.log")));
  REQUIRE(ok);
  CHECK(sl.size() == 200);
  CHECK(dz.size() == 200);
  std::set<std::string> ids;
  for (const json& m : sl) {
    auto key = json::parse(m["key"].get<std::string>());
    auto v = json::parse(m["payload"].get<std::string>());
    CHECK(v["op"] == "read");
    CHECK(v["table"] == "items");
    CHECK(v["after"]["id"] == key["id"]);
    CHECK(KcatHeaders(m)["sluice.lsn"] == v["lsn"]);
    CHECK(KcatHeaders(m)["sluice.op"] == "read");
    ids.insert(key["id"].dump());
  }
  CHECK(ids.size() == 200);
  for (const json& m : dz) {
    auto key = json::parse(m["key"].get<std::string>());
    auto v = json::parse(m["payload"].get<std::string>());
    CHECK(v["op"] == "r");
    CHECK(v["before"].is_null());
    CHECK(v["after"]["id"] == key["id"]);
    CHECK(v["source"]["table"] == "items");
    CHECK(v["source"]["schema"] == "public");
    CHECK(v["source"]["lsn"].is_number_unsigned());
    CHECK(v.contains("ts_ms"));
  }
  // A live update, as a Debezium consumer sees it.
  db.Exec("UPDATE items SET name = 'from kcat' WHERE id = 7");
  json update;
  REQUIRE(WaitFor(
      [&] {
        for (const json& m : Kcat(mock.bootstraps(), "kc_debezium.items")) {
          auto v = json::parse(m["payload"].get<std::string>());
          if (v["op"] == "u") update = v;
        }
        return !update.is_null();
      },
      seconds(30)));
  CHECK(update["after"]["name"] == "from kcat");
  CHECK(update["after"]["id"] == 7);
  CHECK(update["source"]["txId"].is_number());
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

}  // namespace sluice::test
