// The state directory is part of what must be durable: while the snapshot's progress cannot
// be recorded (a full disk), nothing past it is confirmed to PostgreSQL; the error names the
// directory and its free space; once space returns, recording and confirming go on, and a
// kill -9 after that does not read the snapshot again.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "support/own_redis.h"
#include "support/private_tmpfs.h"
#include "support/stdout_pipeline.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

std::string ConfirmedFlush(TestDb& db) {
  auto rows = db.Query(
      "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE database = current_database()");
  return rows.empty() ? "" : rows[0][0];
}

}  // namespace

TEST_CASE("PostgresState: a full state directory holds confirmation back until space returns",
          "[integration][postgres][state]") {
  TestDb db("it_state_full");
  CreateItems(db, 20000);
  TempDir dir("state-full");
  OwnRedis redis(dir.path());
  PrivateTmpfs disk(dir.File("state"), "256k");
  WriteFile(dir.File("sluice.yaml"),
            SluiceConfig(dir, db.Dsn(),
                         "  cache:\n    type: redis\n    url: \"" + redis.Url(0) +
                             "\"\n    command_timeout: 1s\n    connect_timeout: 1s\n",
                         "  items: src.public.items | cache\n",
                         "    snapshot_chunk_rows: 1000\n    snapshot_parallelism: 1\n"));
  const std::string state = disk.Outside(dir.File("state/pipelines/items/postgres.json"));
  auto start = [&] {
    return std::make_unique<SluiceProcess>(
        std::vector<std::string>{"run", "-c", dir.File("sluice.yaml")}, dir.File("stdout.log"),
        dir.File("stderr.log"), std::map<std::string, std::string>{}, disk.Enter());
  };

  // The sink stalls first, so the snapshot is planned (and recorded) but no range is durable
  // when the disk fills.
  redis.Stall();
  auto sluice = start();
  REQUIRE(WaitFor([&] { return ReadFile(state).find("\"bounds\"") != std::string::npos; },
                  seconds(60)));
  disk.Fill();
  redis.Resume();
  INFO(ReadFile(dir.File("stderr.log")).substr(0, 20000));
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline items: streaming from slot"); }, seconds(60)));
  CHECK(LogHas(dir, "cannot record its progress"));
  CHECK(LogHas(dir, "No space left on device"));
  CHECK(LogHas(dir, "state directory " + dir.File("state/pipelines/items")));
  CHECK(LogHas(dir, "KB free of"));

  // Streamed changes become durable in Redis, yet the slot stays where the snapshot began.
  const std::string consistent = ConfirmedFlush(db);
  for (int i = 0; i < 50; ++i)
    db.Exec("UPDATE items SET qty = qty + 1 WHERE id = " + std::to_string(i + 1));
  db.Exec("INSERT INTO items VALUES (100001, 'after the disk filled', 1, 1)");
  auto client_has = [&](const std::string& key) {
    std::string out = dir.File("get.out");
    std::string cmd = "redis-cli -u '" + redis.Url(0) + "' GET " + key + " > " + out;
    return std::system(cmd.c_str()) == 0 &&
           ReadFile(out).find("after the disk") != std::string::npos;
  };
  REQUIRE(WaitFor([&] { return client_has("items:100001"); }, seconds(60)));
  CHECK_FALSE(WaitFor([&] { return ConfirmedFlush(db) != consistent; }, seconds(3)));
  CHECK(ReadFile(state).find("\"done\": {}") != std::string::npos);

  // Space returns: the ranges are recorded, and the slot moves on.
  disk.Free();
  REQUIRE(WaitFor([&] { return LogHas(dir, "its progress is recorded again"); }, seconds(30)));
  CHECK(WaitFor([&] { return ConfirmedFlush(db) != consistent; }, seconds(30)));
  auto recorded = nlohmann::json::parse(ReadFile(state));
  CHECK(recorded.at("tables_done").size() == 1);

  // A kill -9 now reads nothing of the snapshot again, and the cache equals the table.
  sluice->Signal(SIGKILL);
  sluice->Wait(seconds(10));
  size_t log_size = ReadFile(dir.File("stderr.log")).size();
  sluice = start();
  REQUIRE(WaitFor(
      [&] {
        return ReadFile(dir.File("stderr.log")).find("streaming from slot", log_size) !=
               std::string::npos;
      },
      seconds(60)));
  CHECK(ReadFile(dir.File("stderr.log")).find("splits into", log_size) == std::string::npos);
  int rc = RunSluice({"verify", "-c", dir.File("sluice.yaml")}, dir.File("verify.out"),
                     dir.File("verify.err"), seconds(120));
  INFO(ReadFile(dir.File("verify.out")) + ReadFile(dir.File("verify.err")));
  CHECK(rc == 0);
}

}  // namespace sluice::test
