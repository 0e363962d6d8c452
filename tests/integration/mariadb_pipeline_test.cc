// `mariadb | stdout` end to end against the throwaway MariaDB of scripts/test: the snapshot
// and then the binary log reach the sink equal to the table, also across kill -9.
#include "support/mariadb_pipeline.h"

#include <signal.h>

#include <catch2/catch.hpp>

#include "support/applied_state.h"
#include "support/stdout_pipeline.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

TEST_CASE("mariadb | stdout: snapshot then binary log changes equal the table",
          "[integration][mariadb]") {
  TestMariaDb db("sluice_it_mdb_pipe");
  CreateMariaItems(db, 300);
  TempDir dir("sluice-mdb");
  WriteFile(dir.File("sluice.yaml"), MariaConfig(dir, db, 100));
  auto sluice = StartSluice(dir);
  RequireMariaEqual(db, dir);
  auto applied = ApplyJsonLines(dir.File("out.jsonl"));
  CHECK(applied.reads == 300);
  MariaChanges(db, 9000);
  RequireMariaEqual(db, dir);
  // A key update leaves no orphan: the old key is gone from the sink too.
  CHECK(
      ApplyJsonLines(dir.File("out.jsonl")).tables[db.name() + ".items"].count("{\"id\":90002}") ==
      0);
}

TEST_CASE("mariadb | stdout: kill -9 mid-snapshot and while streaming, restart ends equal",
          "[integration][mariadb]") {
  TestMariaDb db("sluice_it_mdb_kill");
  CreateMariaItems(db, 20000);
  TempDir dir("sluice-mdb");
  WriteFile(dir.File("sluice.yaml"), MariaConfig(dir, db, 500));
  {
    auto sluice = StartSluice(dir);
    REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) > 1000; },
                    std::chrono::seconds(60)));
    sluice->Signal(SIGKILL);
    sluice->Wait(std::chrono::seconds(10));
  }
  size_t lines_at_kill = CountLines(dir.File("out.jsonl"));
  CHECK(lines_at_kill < 20000);  // it was killed inside the snapshot
  MariaChanges(db, 7000);        // while it is down: read by the resumed snapshot or the stream
  {
    auto sluice = StartSluice(dir);
    RequireMariaEqual(db, dir);
    MariaChanges(db, 8000);
    RequireMariaEqual(db, dir);
    sluice->Signal(SIGKILL);
    sluice->Wait(std::chrono::seconds(10));
  }
  MariaChanges(db, 6000);
  auto sluice = StartSluice(dir);
  RequireMariaEqual(db, dir);
  // The restart resumed at a chunk: far fewer snapshot rows than two whole reads.
  CHECK(ApplyJsonLines(dir.File("out.jsonl")).reads < 2 * 20000);
}

}  // namespace
}  // namespace sluice::test
