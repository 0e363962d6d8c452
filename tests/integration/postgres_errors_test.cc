// The PostgreSQL source's own clear errors: a configured publication that is missing or lacks
// a piped table, and a replication slot another process is reading.
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

}  // namespace sluice::test
