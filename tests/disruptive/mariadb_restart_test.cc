// MariaDB restarted, and its binary logs purged, under sluice's feet. These tests restart
// the shared test server and purge its logs, so they run alone (RUN_SERIAL).
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "support/mariadb_pipeline.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {

TEST_CASE("MariaDbRestart: server restarted mid-stream, no loss", "[disruptive][mariadb]") {
  std::string ctl = RequireEnv("SLUICE_TEST_MARIADB_CTL");
  TestMariaDb db("sluice_it_mdb_restart");
  CreateMariaItems(db, 1000);
  TempDir dir("mdb-restart");
  WriteFile(dir.File("sluice.yaml"), MariaConfig(dir, db, 1000));
  auto sluice = StartSluice(dir);
  RequireMariaEqual(db, dir);
  MariaChanges(db, 9000);
  REQUIRE(std::system(("\"" + ctl + "\" restart > /dev/null").c_str()) == 0);
  db.Reconnect();
  MariaChanges(db, 8000);
  RequireMariaEqual(db, dir);
  CHECK(sluice->Running());  // it reconnected instead of giving up
  CHECK(LogHas(dir, "reconnecting"));
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(std::chrono::seconds(30)) == 0);
}

TEST_CASE("MariaDbRestart: a purged binary log position is a data-loss error naming it",
          "[disruptive][mariadb]") {
  TestMariaDb db("sluice_it_mdb_purge");
  CreateMariaItems(db, 100);
  TempDir dir("mdb-purge");
  WriteFile(dir.File("sluice.yaml"), MariaConfig(dir, db, 1000));
  {
    auto sluice = StartSluice(dir);
    RequireMariaEqual(db, dir);
    sluice->Signal(SIGTERM);
    REQUIRE(sluice->Wait(std::chrono::seconds(30)) == 0);
  }
  // While sluice is away, the changes after its position leave the binary logs.
  MariaChanges(db, 9000);
  db.Exec("FLUSH BINARY LOGS");
  MariaChanges(db, 8000);
  db.Exec("FLUSH BINARY LOGS");
  // The server keeps a log until its binlog checkpoint has passed it: purge until it went.
  REQUIRE(WaitFor(
      [&] {
        db.Exec("PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 DAY");
        return db.Query("SHOW BINARY LOGS").size() == 1;
      },
      std::chrono::seconds(30)));
  auto sluice = StartSluice(dir);
  CHECK(WaitFor([&] { return LogHas(dir, "the binary log no longer holds what follows GTID"); },
                std::chrono::seconds(60)));
  CHECK_FALSE(MariaEqual(db, dir));  // nothing was skipped to look healthy
}

}  // namespace sluice::test
