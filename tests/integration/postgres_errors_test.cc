// The PostgreSQL source's own clear errors: a configured publication that is missing or lacks
// a piped table, a replication slot another process is reading, and a server whose
// replication slots are all taken.
#include <libpq-fe.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "integration/postgres_test_util.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, PgConnCloser>;

// A replication connection that holds `slot` with START_REPLICATION, as another reader of the
// slot would; null if the server refused (the slot still held by a walsender that is ending).
ConnPtr HoldSlot(const TestDb& db, const std::string& slot, const std::string& publication) {
  ConnPtr conn(PQconnectdb((db.Dsn() + " replication=database").c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) return nullptr;
  std::string sql = "START_REPLICATION SLOT " + slot +
                    " LOGICAL 0/0 (proto_version '1', publication_names '" + publication + "')";
  PGresult* r = PQexec(conn.get(), sql.c_str());
  bool streaming = PQresultStatus(r) == PGRES_COPY_BOTH;
  PQclear(r);
  return streaming ? std::move(conn) : nullptr;
}

}  // namespace

TEST_CASE("PostgresErrors: a configured publication that is missing or lacks a table",
          "[integration][postgres]") {
  TestDb db("it_errors_pub");
  db.Exec("CREATE TABLE t (id int PRIMARY KEY)");
  db.Exec("CREATE TABLE other (id int PRIMARY KEY)");
  db.Exec("CREATE PUBLICATION it_partial FOR TABLE other");
  TempDir dir("errors-pub");

  auto run = [&](const std::string& command, const std::string& publication) {
    WriteFile(dir.File("sluice.yaml"),
              WithSourceOptions(StdoutConfig(dir, db.Dsn(), "  p: src.public.t | out\n"),
                                "    publication: " + publication + "\n"));
    std::remove(dir.File("stderr.log").c_str());
    std::vector<std::string> args = {command, "-c", dir.File("sluice.yaml")};
    if (command == "check") args.insert(args.begin() + 1, "--connect");
    return RunSluice(args, dir.File("stdout.log"), dir.File("stderr.log"), seconds(60));
  };
  SECTION("check names a publication that does not exist") {
    int code = run("check", "it_nope");
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == 1);
    CHECK(LogHas(dir, "publication it_nope does not exist"));
  }
  SECTION("run stops with exit code 1 and says how to fix a missing publication") {
    int code = run("run", "it_nope");
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == 1);
    CHECK(
        LogHas(dir, "publication it_nope does not exist (create it, or leave `publication` unset"));
    // Nothing was created on the user's behalf: neither the publication nor a slot.
    CHECK(db.Query("SELECT 1 FROM pg_publication WHERE pubname = 'it_nope'").empty());
    CHECK(db.Query("SELECT 1 FROM pg_replication_slots WHERE database = 'it_errors_pub'").empty());
  }
  SECTION("check names the table a publication lacks") {
    int code = run("check", "it_partial");
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == 1);
    CHECK(LogHas(dir, "publication it_partial does not publish public.t"));
  }
  SECTION("run stops with exit code 1 and names the table a publication lacks") {
    int code = run("run", "it_partial");
    INFO(ReadFile(dir.File("stderr.log")));
    CHECK(code == 1);
    CHECK(LogHas(dir, "publication it_partial does not publish public.t (ALTER PUBLICATION"));
    // The user's publication is left as it was.
    CHECK(db.Query("SELECT tablename FROM pg_publication_tables WHERE pubname = 'it_partial'") ==
          std::vector<std::vector<std::string>>{{"other"}});
  }
}

TEST_CASE("PostgresErrors: a slot another process reads is named with its pid until it is free",
          "[integration][postgres]") {
  TestDb db("it_errors_slot");
  db.Exec("CREATE TABLE t (id int PRIMARY KEY)");
  db.Exec("INSERT INTO t VALUES (1)");
  TempDir dir("errors-slot");
  const std::string slot = "it_errors_slot_busy";
  WriteFile(dir.File("sluice.yaml"),
            WithSourceOptions(StdoutConfig(dir, db.Dsn(), "  p: src.public.t | out\n"),
                              "    slot: " + slot + "\n"));
  {
    // A first run creates the slot and the publication sluice_p.
    auto sluice = StartSluice(dir);
    REQUIRE(WaitFor([&] { return LogHas(dir, "streaming from slot"); }, seconds(60)));
    sluice->Signal(SIGTERM);
    REQUIRE(sluice->Wait(seconds(30)) == 0);
  }
  ConnPtr holder;
  REQUIRE(
      WaitFor([&] { return (holder = HoldSlot(db, slot, "sluice_p")) != nullptr; }, seconds(30)));
  std::string pid = std::to_string(PQbackendPID(holder.get()));

  std::remove(dir.File("stderr.log").c_str());
  auto sluice = StartSluice(dir);
  std::string want = "replication slot " + slot + " is in use by another process (pid " + pid +
                     "): is another sluice running pipeline p?";
  bool named = WaitFor([&] { return LogHas(dir, want); }, seconds(60));
  INFO(ReadFile(dir.File("stderr.log")));
  REQUIRE(named);
  CHECK(sluice->Running());  // it waits for the slot rather than giving up
  CHECK_FALSE(LogHas(dir, "streaming from slot"));

  holder.reset();  // the other reader goes away: sluice takes the slot over
  CHECK(WaitFor([&] { return LogHas(dir, "streaming from slot " + slot); }, seconds(60)));
  db.Exec("INSERT INTO t VALUES (2)");
  CHECK(
      WaitFor([&] { return ApplyJsonLines(dir.File("out.jsonl")).tables["public.t"].size() == 2; },
              seconds(30)));
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("PostgresErrors: a server whose replication slots are all taken",
          "[integration][postgres]") {
  // A server of its own (max_replication_slots = 2, started by scripts/test) that this test
  // alone fills: physical slots count against the same limit.
  std::string dsn = "host=" + RequireEnv("SLUICE_TEST_PG_HOST") +
                    " port=" + RequireEnv("SLUICE_TEST_PG_FEW_SLOTS_PORT") +
                    " user=" + RequireEnv("SLUICE_TEST_PG_USER") + " dbname=postgres";
  ConnPtr admin(PQconnectdb(dsn.c_str()));
  REQUIRE(PQstatus(admin.get()) == CONNECTION_OK);
  auto exec = [&](const std::string& sql) {
    PGresult* r = PQexec(admin.get(), sql.c_str());
    INFO(sql << ": " << PQerrorMessage(admin.get()));
    REQUIRE((PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK));
    PQclear(r);
  };
  exec("DROP TABLE IF EXISTS it_slots_t");
  exec("CREATE TABLE it_slots_t (id int PRIMARY KEY)");
  exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots");
  exec("SELECT pg_create_physical_replication_slot('it_fill_1')");
  exec("SELECT pg_create_physical_replication_slot('it_fill_2')");

  TempDir dir("errors-slots-full");
  WriteFile(dir.File("sluice.yaml"), StdoutConfig(dir, dsn, "  p: src.public.it_slots_t | out\n"));
  const std::string want =
      "all replication slots are in use (raise max_replication_slots, or drop unused slots)";
  for (const std::string command : {"check", "run"}) {
    std::remove(dir.File("stderr.log").c_str());
    std::vector<std::string> args = {command, "-c", dir.File("sluice.yaml")};
    if (command == "check") args.insert(args.begin() + 1, "--connect");
    int code = RunSluice(args, dir.File("stdout.log"), dir.File("stderr.log"), seconds(60));
    INFO(command << ": " << ReadFile(dir.File("stderr.log")));
    CHECK(code == 1);
    CHECK(LogHas(dir, want));
  }

  // With one slot freed, check passes.
  exec("SELECT pg_drop_replication_slot('it_fill_2')");
  std::remove(dir.File("stderr.log").c_str());
  int code = RunSluice({"check", "--connect", "-c", dir.File("sluice.yaml")},
                       dir.File("stdout.log"), dir.File("stderr.log"), seconds(60));
  INFO(ReadFile(dir.File("stderr.log")));
  CHECK(code == 0);
  exec("SELECT pg_drop_replication_slot('it_fill_1')");
}

}  // namespace sluice::test
