// SIGTERM under write load: a graceful stop drains, flushes, confirms and exits 0 within
// shutdown_timeout; a second SIGTERM stops at once (exit 3). Either way a restart ends with
// the sink equal to the table.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "support/es_target.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

TEST_CASE(
    "Shutdown: SIGTERM under write load exits 0 within shutdown_timeout and a restart loses "
    "nothing",
    "[integration][shutdown]") {
  TestDb db("it_shutdown_graceful");
  CreateItems(db, 2000);
  TempDir dir("shutdown-graceful");
  WriteFile(
      dir.File("sluice.yaml"),
      "shutdown_timeout: 10s\n" + StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"));
  std::atomic<bool> stop{false};
  // Writes until told to stop, so they still flow when the signal comes, however long
  // start-up and the snapshot take.
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 1000000, 7, 2000);
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline items: streaming"); }, seconds(60)));
  size_t lines = CountLines(dir.File("out.jsonl"));
  REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) > lines + 100; }, seconds(60)));

  auto signalled = Clock::now();
  sluice->Signal(SIGTERM);  // while the writer is still writing
  int rc = sluice->Wait(seconds(15));
  double took = SecondsSince(signalled);
  INFO(ReadFile(dir.File("stderr.log")).substr(0, 20000));
  CHECK(rc == 0);
  CHECK(took < 10.0);
  CHECK(LogHas(dir, "stopping: draining pipelines"));
  CHECK(LogHas(dir, "sluice exiting with code 0"));

  sluice = StartSluice(dir);
  stop = true;
  writer.join();
  RequireConverged(db, dir);
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("Shutdown: a second SIGTERM exits at once with code 3 and a restart loses nothing",
          "[integration][shutdown]") {
  TestDb db("it_shutdown_twice");
  CreateItems(db, 2000);
  EsTarget es("shutdown-twice");
  REQUIRE(es.server() != nullptr);  // a slow sink needs the in-process server
  TempDir dir("shutdown-twice");
  // Two sinks: stdout (fast, what the test compares) and a slow Elasticsearch that keeps the
  // graceful drain from finishing, and so holds every confirm back.
  WriteFile(dir.File("sluice.yaml"),
            "shutdown_timeout: 60s\n" +
                SluiceConfig(dir, db.Dsn(),
                             "  out:\n    type: stdout\n    path: " + dir.File("out.jsonl") +
                                 "\n  search:\n    type: elasticsearch\n    url: " + es.url() +
                                 "\n    index: " + es.Index("items") + "\n",
                             "  items:\n    from: src.public.items\n    to: [out, search]\n",
                             "    toast: lookup\n"));
  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 1000000, 11, 2000);
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline items: streaming"); }, seconds(60)));
  size_t lines = CountLines(dir.File("out.jsonl"));
  REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) > lines + 200; }, seconds(60)));
  es.server()->SetDelay(milliseconds(3000));
  lines = CountLines(dir.File("out.jsonl"));
  REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) > lines; }, seconds(60)));

  sluice->Signal(SIGTERM);
  REQUIRE(WaitFor([&] { return LogHas(dir, "stopping: draining pipelines"); }, seconds(10)));
  auto second = Clock::now();
  sluice->Signal(SIGTERM);
  int rc = sluice->Wait(seconds(10));
  double took = SecondsSince(second);
  INFO(ReadFile(dir.File("stderr.log")).substr(0, 20000));
  CHECK(rc == 3);
  CHECK(took < 3.0);  // the abort grace is 1 s, whatever the sink is doing

  es.server()->SetDelay(milliseconds(0));
  sluice = StartSluice(dir);
  stop = true;
  writer.join();
  RequireConverged(db, dir);
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

}  // namespace sluice::test
