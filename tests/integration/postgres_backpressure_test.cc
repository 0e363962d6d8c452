// A sink that stays down must never hold the database hostage: while the pipeline cannot
// take changes, the PostgreSQL source keeps the replication socket drained and then closes
// the connection, so the server's checkpointer can always finish (it terminates the
// walsender of a slot past max_slot_wal_keep_size, and waits for it to exit).
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "support/own_redis.h"
#include "support/stdout_pipeline.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kSmallWal = "SLUICE_TEST_PG_SMALL_WAL_PORT";

// WAL the pipeline's slot holds on the server, in bytes.
double RetainedWal(TestDb& db) {
  auto rows = db.Query(
      "SELECT coalesce(pg_current_wal_lsn() - restart_lsn, 0) FROM pg_replication_slots "
      "WHERE database = current_database()");
  return rows.empty() ? 0 : std::stod(rows[0][0]);
}

}  // namespace

TEST_CASE("PostgresBackpressure: a sink down for long never stalls the server's checkpoints",
          "[integration][postgres][backpressure]") {
  // A server of its own: max_slot_wal_keep_size = 64MB (scripts/test).
  TestDb db("it_backpressure_ckpt", kSmallWal);
  db.Exec("CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, price numeric(14,3))");
  db.Exec("INSERT INTO items SELECT g, 'item ' || g, g % 100, g FROM generate_series(1, 100) g");
  TempDir dir("backpressure-ckpt");
  OwnRedis redis(dir.path());
  WriteFile(
      dir.File("sluice.yaml"),
      SluiceConfig(dir, db.Dsn(), "  cache:\n    type: redis\n    url: \"" + redis.Url(0) + "\"\n",
                   "  items: src.public.items | cache\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline items: streaming"); }, seconds(60)));

  redis.Kill();
  // Far more WAL than the slot may keep, in transactions of a few MB, so the queues fill,
  // the source stops taking changes and the server has plenty more to send.
  for (int t = 0; t < 40; ++t) {
    std::string from = std::to_string(1000 + t * 2000);
    db.Exec("INSERT INTO items SELECT g, repeat('x', 1500), 1, g FROM generate_series(" + from +
            ", " + from + " + 1999) g");
  }
  INFO(ReadFile(dir.File("stderr.log")).substr(0, 20000));
  REQUIRE(RetainedWal(db) > 64.0 * 1024 * 1024);
  // The state the stall needs: the walsender blocked writing to sluice's socket (or sluice
  // has closed the connection already).
  auto walsender_blocked = [&] {
    return !db.Query(
                  "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'walsender' AND "
                  "wait_event = 'ClientWrite' AND datname = current_database()")
                .empty();
  };
  REQUIRE(WaitFor(
      [&] { return walsender_blocked() || LogHas(dir, "closing the replication connection"); },
      seconds(60)));

  // The checkpoint invalidates the slot, which needs its walsender gone. It must not wait
  // for the sink: without the fix it waited as long as Redis was down.
  auto started = Clock::now();
  std::string err = db.TryExec("SET statement_timeout = '120s'; CHECKPOINT");
  double took = std::chrono::duration<double>(Clock::now() - started).count();
  CHECK(err.empty());
  CHECK(took < 60.0);
  // And the next one too, while Redis is still down.
  CHECK(db.TryExec("SET statement_timeout = '60s'; CHECKPOINT").empty());
  CHECK(WaitFor(
      [&] {
        return LogHas(dir, "closing the replication connection") ||
               LogHas(dir, "replication connection lost while the sinks are full");
      },
      seconds(30)));
  auto slot = db.Query(
      "SELECT wal_status, active FROM pg_replication_slots WHERE database = current_database()");
  REQUIRE(slot.size() == 1);
  CHECK(slot[0][0] == "lost");  // past max_slot_wal_keep_size, as the server decides
  CHECK(slot[0][1] == "f");

  // With the sink back the pipeline finds its slot invalidated and stops with that reason;
  // it never recreates the slot silently.
  redis.Start();
  CHECK(sluice->Wait(seconds(120)) == 1);
  CHECK(LogHas(dir, "was invalidated"));
}

}  // namespace sluice::test
