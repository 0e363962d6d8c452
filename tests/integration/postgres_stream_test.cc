// The PostgreSQL stream against the real server: schema changes mid-stream (Relation
// messages), truncate, and unchanged TOAST values.
#include <signal.h>

#include <catch2/catch.hpp>

#include "integration/postgres_test_util.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

// Starts `postgres | stdout` on table t of `db`, waits until it streams.
std::unique_ptr<SluiceProcess> StreamTable(TestDb& db, const TempDir& dir,
                                           const std::string& options = "") {
  WriteFile(dir.File("sluice.yaml"),
            WithSourceOptions(StdoutConfig(dir, db.Dsn(), "  t: src.public.t | out\n"), options));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "streaming from slot"); }, seconds(60)));
  return sluice;
}

// The changes in out.jsonl once there are at least `n`.
std::vector<nlohmann::json> AwaitChanges(const TempDir& dir, size_t n) {
  REQUIRE(WaitFor([&] { return ApplyJsonLines(dir.File("out.jsonl")).lines >= n; }, seconds(30)));
  return ApplyJsonLines(dir.File("out.jsonl")).changes;
}

void Stop(SluiceProcess& sluice) {
  sluice.Signal(SIGTERM);
  CHECK(sluice.Wait(seconds(30)) == 0);
}

}  // namespace

TEST_CASE("PostgresStream: a column added, dropped and retyped mid-stream, without a restart",
          "[integration][postgres]") {
  TestDb db("it_schema_change");
  db.Exec("CREATE TABLE t (id int PRIMARY KEY, note text, n int)");
  TempDir dir("schema-change");
  auto sluice = StreamTable(db, dir);
  db.Exec("INSERT INTO t VALUES (1, 'a', 1)");
  db.Exec("ALTER TABLE t ADD COLUMN extra numeric DEFAULT 1.50");
  db.Exec("INSERT INTO t VALUES (2, 'b', 2, 2.25)");
  db.Exec("ALTER TABLE t DROP COLUMN note");
  db.Exec("INSERT INTO t VALUES (3, 3, 3.75)");
  db.Exec("ALTER TABLE t ALTER COLUMN n TYPE text USING 'n=' || n");
  db.Exec("UPDATE t SET n = n || '!' WHERE id = 3");
  auto changes = AwaitChanges(dir, 4);
  REQUIRE(changes.size() == 4);
  CHECK(changes[0]["after"] == nlohmann::json::parse(R"({"id":1,"note":"a","n":1})"));
  CHECK(changes[1]["after"] ==
        nlohmann::json::parse(R"({"id":2,"note":"b","n":2,"extra":"2.25"})"));
  CHECK(changes[2]["after"] == nlohmann::json::parse(R"({"id":3,"n":3,"extra":"3.75"})"));
  CHECK(changes[3]["op"] == "update");
  CHECK(changes[3]["after"] == nlohmann::json::parse(R"({"id":3,"n":"n=3!","extra":"3.75"})"));
  CHECK(sluice->Running());
  Stop(*sluice);
}

TEST_CASE("PostgresStream: truncate reaches the sink as a truncate of that table",
          "[integration][postgres]") {
  TestDb db("it_truncate");
  db.Exec("CREATE TABLE t (id int PRIMARY KEY)");
  db.Exec("INSERT INTO t SELECT generate_series(1, 3)");
  TempDir dir("truncate");
  auto sluice = StreamTable(db, dir);
  db.Exec("TRUNCATE t");
  db.Exec("INSERT INTO t VALUES (9)");
  auto changes = AwaitChanges(dir, 5);
  REQUIRE(changes.size() == 5);
  CHECK(changes[3]["op"] == "truncate");
  CHECK(changes[3]["table"] == "t");
  CHECK(changes[3]["schema"] == "public");
  CHECK(changes[4]["op"] == "insert");
  auto applied = ApplyJsonLines(dir.File("out.jsonl"));
  CHECK(applied.tables["public.t"].size() == 1);  // the truncate removed the snapshot rows
  Stop(*sluice);
}

TEST_CASE("PostgresStream: an unchanged TOAST value is marked unchanged, never null",
          "[integration][postgres]") {
  TestDb db("it_toast");
  db.Exec("CREATE TABLE t (id int PRIMARY KEY, big text, n int)");
  TempDir dir("toast");
  auto sluice = StreamTable(db, dir);
  // 32 kB of md5 hex: too large to stay inline even compressed, so it is stored out of line.
  db.Exec(
      "INSERT INTO t SELECT 1, string_agg(md5(g::text), '') , 1 FROM generate_series(1, 1000) g");
  db.Exec("UPDATE t SET n = 2 WHERE id = 1");
  db.Exec("UPDATE t SET big = 'small', n = 3 WHERE id = 1");
  auto changes = AwaitChanges(dir, 3);
  REQUIRE(changes.size() == 3);
  CHECK(changes[0]["after"]["big"].get<std::string>().size() == 32000);
  const auto& upd = changes[1];
  CHECK(upd["after"]["n"] == 2);
  CHECK_FALSE(upd["after"].contains("big"));
  CHECK(upd["unchanged"] == nlohmann::json::array({"big"}));
  CHECK(changes[2]["after"]["big"] == "small");
  CHECK_FALSE(changes[2].contains("unchanged"));
  Stop(*sluice);
}

TEST_CASE("PostgresStream: toast lookup fills an unchanged TOAST value with the current one",
          "[integration][postgres]") {
  TestDb db("it_toast_lookup");
  db.Exec("CREATE TABLE t (id int PRIMARY KEY, big text, doc jsonb, n int)");
  TempDir dir("toast-lookup");
  auto sluice = StreamTable(db, dir, "    toast: lookup\n");
  db.Exec(
      "INSERT INTO t SELECT i, string_agg(md5(g::text), ''), jsonb_agg(md5(g::text)), 1 "
      "FROM generate_series(1, 1000) g, generate_series(1, 2) i GROUP BY i");
  db.Exec("UPDATE t SET n = n + 1");  // both rows in one transaction: one lookup query
  // The lookup reads the row as it is when sluice gets there: wait before deleting it.
  AwaitChanges(dir, 4);
  db.Exec("BEGIN; UPDATE t SET n = 9 WHERE id = 2; DELETE FROM t WHERE id = 2; COMMIT");
  auto changes = AwaitChanges(dir, 6);
  REQUIRE(changes.size() == 6);
  for (int i : {2, 3}) {
    const auto& upd = changes[i];
    INFO(upd.dump().substr(0, 300));
    CHECK(upd["op"] == "update");
    CHECK(upd["after"]["n"] == 2);
    CHECK(upd["after"]["big"] == changes[i - 2]["after"]["big"]);
    CHECK(upd["after"]["doc"] == changes[i - 2]["after"]["doc"]);
    CHECK(upd["after"].value("doc", nlohmann::json()).size() == 1000);
    CHECK_FALSE(upd.contains("unchanged"));
  }
  // The row is gone by the time of the lookup: still marked unchanged, never null.
  CHECK(changes[4]["after"]["n"] == 9);
  CHECK_FALSE(changes[4]["after"].contains("big"));
  CHECK(changes[4]["unchanged"] == nlohmann::json::array({"big", "doc"}));
  CHECK(changes[5]["op"] == "delete");
  Stop(*sluice);
}

}  // namespace sluice::test
