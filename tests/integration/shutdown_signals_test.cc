// SIGTERM under write load: a graceful stop drains, flushes, confirms and exits 0 within
// shutdown_timeout; a second SIGTERM stops at once (exit 3). Either way a restart ends with
// the sink equal to the table.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
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

TEST_CASE(
    "Shutdown: SIGHUP reloads an unchanged config, the pipelines go on, and SIGTERM then "
    "exits 0",
    "[integration][shutdown]") {
  TestDb db("it_shutdown_sighup");
  CreateItems(db, 100);
  TempDir dir("shutdown-sighup");
  WriteFile(dir.File("sluice.yaml"),
            StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline items: streaming"); }, seconds(60)));
  sluice->Signal(SIGHUP);
  REQUIRE(WaitFor([&] { return LogHas(dir, "SIGHUP received"); }, seconds(10)));
  REQUIRE(WaitFor([&] { return LogHas(dir, "unchanged items"); }, seconds(10)));
  CHECK(sluice->Running());
  // Still streaming: a change made after the signal arrives.
  size_t lines = CountLines(dir.File("out.jsonl"));
  db.Exec("UPDATE items SET qty = qty + 1 WHERE id = 7");
  CHECK(WaitFor([&] { return CountLines(dir.File("out.jsonl")) > lines; }, seconds(30)));
  sluice->Signal(SIGTERM);
  INFO(ReadFile(dir.File("stderr.log")).substr(0, 20000));
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE(
    "Shutdown: a closed standard output stops the pipeline with a clear error (run | head -1)",
    "[integration][shutdown]") {
  TestDb db("it_shutdown_epipe");
  CreateItems(db, 5000);  // far more than a pipe holds, so a write meets the closed end
  TempDir dir("shutdown-epipe");
  WriteFile(dir.File("sluice.yaml"), SluiceConfig(dir, db.Dsn(), "  out:\n    type: stdout\n",
                                                  "  items: src.public.items | out\n"));
  std::string cmd = "timeout -s KILL 60 bash -c '\"$0\" run -c " + dir.File("sluice.yaml") + " 2>" +
                    dir.File("stderr.log") + " | head -1 >" + dir.File("first.txt") +
                    "; echo ${PIPESTATUS[0]} >" + dir.File("rc.txt") + "' " + SluiceBinary();
  auto started = Clock::now();
  int rc = std::system(cmd.c_str());
  double took = SecondsSince(started);
  INFO(ReadFile(dir.File("stderr.log")).substr(0, 20000));
  REQUIRE(rc == 0);  // timeout(1) did not have to kill it
  CHECK(took < 30.0);
  CHECK(ReadFile(dir.File("first.txt")).find("\"op\":\"read\"") != std::string::npos);
  CHECK(ReadFile(dir.File("rc.txt")) == "1\n");
  CHECK(LogHas(dir, "Broken pipe"));
  CHECK(LogHas(dir, "sluice exiting with code 1"));
  // Nothing was confirmed past what was written: the one range of the snapshot never became
  // durable, so the table is not recorded as done.
  auto state = nlohmann::json::parse(ReadFile(dir.File("state/pipelines/items/postgres.json")));
  CHECK(state.at("tables_done").empty());
}

}  // namespace sluice::test
