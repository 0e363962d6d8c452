// postgres | stdout end to end against the real PostgreSQL that scripts/test starts.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <thread>

#include "integration/postgres_test_util.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

}  // namespace

TEST_CASE("PostgresStdout: snapshot under concurrent writes, then streaming, equals the table",
          "[integration][postgres]") {
  TestDb db("it_snapshot_stream");
  CreateItems(db, 5000);
  TempDir dir("snapshot-stream");
  WriteFile(dir.File("sluice.yaml"),
            StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"));

  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 600, 1, 3000);
  auto sluice = StartSluice(dir);
  writer.join();
  RequireConverged(db, dir);
  auto applied = ApplyJsonLines(dir.File("out.jsonl"));
  CHECK(applied.reads >= 4000);  // the snapshot saw the table (minus concurrent deletes)
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("PostgresStdout: insert, update, key change and delete arrive with op, key and values",
          "[integration][postgres]") {
  TestDb db("it_ops");
  db.Exec(
      "CREATE TABLE t (id int PRIMARY KEY, amount numeric, at timestamptz, doc jsonb, ok bool, "
      "note text)");
  TempDir dir("ops");
  WriteFile(dir.File("sluice.yaml"), StdoutConfig(dir, db.Dsn(), "  t: src.public.t | out\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "streaming from slot"); }, seconds(30)));

  db.Exec(
      "INSERT INTO t VALUES (1, 12345678901234567890.123456789, '2026-11-24 10:00:00.5+02', "
      "'{\"a\": [1, 2]}', true, NULL)");
  db.Exec("UPDATE t SET note = 'hello', ok = false WHERE id = 1");
  db.Exec("UPDATE t SET id = 2 WHERE id = 1");
  db.Exec("DELETE FROM t WHERE id = 2");
  REQUIRE(WaitFor([&] { return ApplyJsonLines(dir.File("out.jsonl")).lines >= 4; }, seconds(30)));
  auto changes = ApplyJsonLines(dir.File("out.jsonl")).changes;
  REQUIRE(changes.size() == 4);

  const auto& ins = changes[0];
  CHECK(ins["op"] == "insert");
  CHECK(ins["source"] == "src");
  CHECK(ins["schema"] == "public");
  CHECK(ins["table"] == "t");
  CHECK(ins["key"] == nlohmann::json::parse(R"({"id":1})"));
  CHECK(ins["after"]["amount"] == "12345678901234567890.123456789");
  CHECK(ins["after"]["at"] == "2026-11-24T08:00:00.5Z");
  CHECK(ins["after"]["doc"] == nlohmann::json::parse(R"({"a":[1,2]})"));
  CHECK(ins["after"]["ok"] == true);
  CHECK(ins["after"]["note"].is_null());
  CHECK(ins["seq"] == 1);
  CHECK(ins["commit_time"].get<std::string>().size() == 27);
  CHECK(ins["lsn"].get<std::string>().find('/') != std::string::npos);

  const auto& upd = changes[1];
  CHECK(upd["op"] == "update");
  CHECK(upd["after"]["note"] == "hello");
  CHECK(upd["after"]["ok"] == false);
  CHECK_FALSE(upd.contains("old_key"));

  const auto& moved = changes[2];
  CHECK(moved["op"] == "update");
  CHECK(moved["key"] == nlohmann::json::parse(R"({"id":2})"));
  CHECK(moved["old_key"] == nlohmann::json::parse(R"({"id":1})"));

  const auto& del = changes[3];
  CHECK(del["op"] == "delete");
  CHECK(del["key"] == nlohmann::json::parse(R"({"id":2})"));
  CHECK(del["after"].is_null());
  // Positions increase along the stream.
  CHECK(changes[0]["lsn"] != changes[3]["lsn"]);

  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("PostgresStdout: a restart resumes without loss and without repeating the snapshot",
          "[integration][postgres]") {
  TestDb db("it_restart");
  CreateItems(db, 1000);
  TempDir dir("restart");
  WriteFile(dir.File("sluice.yaml"),
            StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"));
  {
    auto sluice = StartSluice(dir);
    RequireConverged(db, dir);
    db.Exec("UPDATE items SET qty = -1 WHERE id <= 10");
    RequireConverged(db, dir);
    sluice->Signal(SIGTERM);
    REQUIRE(sluice->Wait(seconds(30)) == 0);
  }
  // Changes made while sluice is down arrive after the restart.
  db.Exec("UPDATE items SET name = 'while down' WHERE id BETWEEN 100 AND 200");
  db.Exec("DELETE FROM items WHERE id > 900");
  db.Exec("INSERT INTO items VALUES (5000, 'after', 1, 1)");
  auto sluice = StartSluice(dir);
  RequireConverged(db, dir);
  CHECK(ApplyJsonLines(dir.File("out.jsonl")).reads == 1000);
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("PostgresStdout: kill -9 mid-stream, restart, and the result still equals the table",
          "[integration][postgres]") {
  TestDb db("it_kill9");
  CreateItems(db, 2000);
  TempDir dir("kill9");
  WriteFile(dir.File("sluice.yaml"),
            StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"));
  std::atomic<bool> stop{false};
  // Until told to stop: every round waits for new lines, which a bounded writer that has
  // already finished (a slow start-up, a fast stream) would never give.
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 1000000, 2, 3000);
  std::string state_file = dir.File("state/pipelines/items/postgres.json");
  for (int round = 0; round < 5; ++round) {
    auto sluice = StartSluice(dir);
    if (round == 0) {
      // The snapshot is durable once the table is listed as done (the state file names the
      // table as soon as its key ranges are planned, before they are read).
      REQUIRE(WaitFor(
          [&] {
            auto st = nlohmann::json::parse(ReadFile(state_file), nullptr, false);
            if (!st.is_object() || !st.contains("tables_done")) return false;
            for (const auto& t : st["tables_done"]) {
              if (t == "public.items") return true;
            }
            return false;
          },
          seconds(60)));
    }
    size_t before = CountLines(dir.File("out.jsonl"));
    REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) > before + 200; }, seconds(60)));
    sluice->Signal(SIGKILL);
    REQUIRE(sluice->Wait(seconds(10)) == -SIGKILL);
  }
  stop = true;
  writer.join();
  auto sluice = StartSluice(dir);
  RequireConverged(db, dir);
  CHECK(ReadKeysAreUnique(ApplyJsonLines(dir.File("out.jsonl"))));  // the snapshot never ran twice
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("PostgresStdout: clear errors for a missing table, no key, no privilege, no server",
          "[integration][postgres]") {
  TestDb db("it_errors");
  db.Exec("CREATE TABLE nokey (a int, b text)");
  db.Exec("CREATE TABLE ok (id int PRIMARY KEY)");
  db.TryExec("DROP ROLE IF EXISTS it_noreplication");
  db.Exec("CREATE ROLE it_noreplication LOGIN");
  db.Exec("GRANT SELECT ON ALL TABLES IN SCHEMA public TO it_noreplication");
  TempDir dir("errors");

  auto check = [&](const std::string& dsn, const std::string& pipe, int want_code,
                   const std::string& want_message) {
    WriteFile(dir.File("sluice.yaml"), StdoutConfig(dir, dsn, "  p: " + pipe + "\n"));
    std::remove(dir.File("stderr.log").c_str());
    int code = RunSluice({"check", "--connect", "-c", dir.File("sluice.yaml")},
                         dir.File("stdout.log"), dir.File("stderr.log"), seconds(60));
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == want_code);
    CHECK(LogHas(dir, want_message));
  };
  SECTION("missing table") {
    check(db.Dsn(), "src.public.nope | out", 1, "table public.nope does not exist");
  }
  SECTION("table without primary key or replica identity") {
    check(db.Dsn(), "src.public.nokey | out", 1,
          "table public.nokey has no primary key or replica identity index");
  }
  SECTION("role without the replication privilege") {
    std::string dsn = db.Dsn() + " user=it_noreplication";  // the last user= wins
    check(dsn, "src.public.ok | out", 1, "lacks the replication privilege");
  }
  SECTION("wal_level not logical") {
    std::string dsn = "host=" + RequireEnv("SLUICE_TEST_PG_HOST") +
                      " port=" + RequireEnv("SLUICE_TEST_PG_REPLICA_PORT") +
                      " user=" + RequireEnv("SLUICE_TEST_PG_USER") + " dbname=postgres";
    check(dsn, "src.public.ok | out", 1,
          "wal_level is 'replica', logical replication needs wal_level = logical");
  }
  SECTION("unreachable server") {
    check("host=127.0.0.1 port=1 dbname=x user=x", "src.public.ok | out", 1,
          "cannot connect to PostgreSQL");
  }
  SECTION("run stops the pipeline with the same message and exit code 1") {
    WriteFile(dir.File("sluice.yaml"),
              StdoutConfig(dir, db.Dsn(), "  p: src.public.nokey | out\n"));
    int code = RunSluice({"run", "-c", dir.File("sluice.yaml")}, dir.File("stdout.log"),
                         dir.File("stderr.log"), seconds(60));
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == 1);
    CHECK(LogHas(dir, "has no primary key or replica identity index"));
  }
}

}  // namespace sluice::test

namespace sluice::test {

TEST_CASE("PostgresStdout: database-specific types read by meaning in snapshot and stream",
          "[integration][postgres]") {
  TestDb db("it_user_types");
  db.Exec("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
  db.Exec("CREATE DOMAIN price AS numeric(12,2) CHECK (VALUE >= 0)");
  db.Exec(
      "CREATE TABLE t (id int PRIMARY KEY, m mood, ms mood[], p price, ps price[], "
      "grid int[][], tags text[])");
  db.Exec(
      "INSERT INTO t VALUES (1, 'ok', '{sad,happy}', 12.50, '{1.10,NULL}', '{{1,2},{3,4}}', "
      "'{\"a,b\",NULL}')");
  TempDir dir("user-types");
  WriteFile(dir.File("sluice.yaml"), StdoutConfig(dir, db.Dsn(), "  types: src.public.t | out\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "streaming from slot"); }, std::chrono::seconds(30)));
  db.Exec("INSERT INTO t SELECT 2, m, ms, p, ps, grid, tags FROM t WHERE id = 1");
  REQUIRE(WaitFor([&] { return ApplyJsonLines(dir.File("out.jsonl")).lines >= 2; },
                  std::chrono::seconds(30)));
  auto changes = ApplyJsonLines(dir.File("out.jsonl")).changes;
  REQUIRE(changes.size() == 2);
  CHECK(changes[0]["op"] == "read");
  CHECK(changes[1]["op"] == "insert");
  for (const auto& c : changes) {
    const auto& a = c["after"];
    CHECK(a["m"] == "ok");
    CHECK(a["ms"] == nlohmann::json::parse(R"(["sad","happy"])"));
    CHECK(a["p"] == "12.50");  // a domain over numeric stays an exact decimal
    CHECK(a["ps"] == nlohmann::json::parse(R"(["1.10",null])"));
    CHECK(a["grid"] == nlohmann::json::parse("[[1,2],[3,4]]"));
    CHECK(a["tags"] == nlohmann::json::parse(R"(["a,b",null])"));
  }
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(std::chrono::seconds(30)) == 0);
}

}  // namespace sluice::test
