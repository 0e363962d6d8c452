// PostgreSQL restarted under sluice's feet. These tests restart the shared test server,
// so they run alone (RUN_SERIAL).
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <thread>

#include "support/stdout_pipeline.h"

namespace sluice::test {

TEST_CASE("PostgresRestart: server restarted mid-stream under writes, no loss",
          "[disruptive][postgres]") {
  std::string pg_ctl = RequireEnv("SLUICE_TEST_PG_CTL");
  TestDb db("it_pg_restart");
  CreateItems(db, 2000);
  TempDir dir("pg-restart");
  WriteFile(dir.File("sluice.yaml"),
            StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "streaming from slot"); }, std::chrono::seconds(60)));

  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 3000, 7, 3000);
  REQUIRE(WaitFor([&] { return ApplyJsonLines(dir.File("out.jsonl")).lines > 2300; },
                  std::chrono::seconds(60)));
  REQUIRE(std::system((pg_ctl + " restart -m fast -w > /dev/null").c_str()) == 0);
  writer.join();

  // The test's own connection died with the server; a fresh one sees the final table.
  TestDb::Reconnect(db);
  RequireConverged(db, dir);
  CHECK(sluice->Running());  // it reconnected instead of giving up
  CHECK(LogHas(dir, "PostgreSQL unavailable, reconnecting"));
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(std::chrono::seconds(30)) == 0);
}

}  // namespace sluice::test
