// The PostgreSQL snapshot in key ranges: parallel readers under concurrent writes, and
// kill -9 at many points inside it, against the real PostgreSQL that scripts/test starts.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <thread>

#include "integration/postgres_test_util.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

void SnapshotUnderWrites(int parallelism) {
  std::string name = "it_snap_par" + std::to_string(parallelism);
  TestDb db(name);
  CreateItems(db, 20000);
  TempDir dir("snap-par" + std::to_string(parallelism));
  std::string options = "    snapshot_parallelism: " + std::to_string(parallelism) +
                        "\n    snapshot_chunk_rows: 1500\n";
  WriteFile(
      dir.File("sluice.yaml"),
      WithSourceOptions(StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"), options));
  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 800, 3 + parallelism, 20000);
  auto sluice = StartSluice(dir);
  writer.join();
  RequireConverged(db, dir);
  auto applied = ApplyJsonLines(dir.File("out.jsonl"));
  CHECK(applied.reads >= 19000);  // the snapshot saw the table (minus concurrent deletes)
  CHECK(ReadKeysAreUnique(applied));
  // 20000 rows in ranges of 1500: 14 ranges, read over `parallelism` connections.
  CHECK(LogHas(dir, "14 ranges of 1 tables over " + std::to_string(parallelism) + " connections"));
  CHECK(LogHas(dir, "range 13 of 14 read"));
  CHECK(LogHas(dir, "snapshot progress: public.items"));
  REQUIRE(WaitFor(
      [&] {
        auto st = PgState(dir, "items");
        return st.is_object() && st["tables_done"] == nlohmann::json::array({"public.items"}) &&
               st["snapshot"].empty();
      },
      seconds(30)));
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

// Finished ranges of public.items as recorded in the state file: range -> (low, high], as
// ids; low/high absent at the open ends.
struct DoneRanges {
  std::vector<int64_t> bounds;
  std::set<size_t> done;
  bool table_done = false;
  bool Covers(int64_t id) const {
    for (size_t r : done) {
      bool above = r == 0 || id > bounds[r - 1];
      bool below = r == bounds.size() || id <= bounds[r];
      if (above && below) return true;
    }
    return false;
  }
};

DoneRanges ReadDone(const TempDir& dir) {
  DoneRanges out;
  auto st = PgState(dir, "items");
  REQUIRE(st.is_object());
  out.table_done = st["tables_done"].size() == 1;
  if (!st["snapshot"].contains("public.items")) return out;
  const auto& plan = st["snapshot"]["public.items"];
  for (const auto& b : plan["bounds"]) out.bounds.push_back(std::stoll(b[0].get<std::string>()));
  for (const auto& [range, rows] : plan["done"].items()) out.done.insert(std::stoul(range));
  return out;
}

// Ids of the `read` lines in out.jsonl from byte `from` to byte `to`.
std::vector<int64_t> ReadIds(const std::string& text, size_t from, size_t to) {
  std::vector<int64_t> ids;
  size_t pos = from;
  while (pos < to) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos || end > to) break;
    auto j = nlohmann::json::parse(text.substr(pos, end - pos), nullptr, false);
    if (j.is_object() && j["op"] == "read") ids.push_back(j["key"]["id"].get<int64_t>());
    pos = end + 1;
  }
  return ids;
}

}  // namespace

TEST_CASE("PostgresSnapshot: ranges under concurrent writes with parallelism 1 equal the table",
          "[integration][postgres][snapshot]") {
  SnapshotUnderWrites(1);
}

TEST_CASE("PostgresSnapshot: ranges under concurrent writes with parallelism 4 equal the table",
          "[integration][postgres][snapshot]") {
  SnapshotUnderWrites(4);
}

TEST_CASE(
    "PostgresSnapshot: kill -9 at six points inside a snapshot, no finished range read "
    "again",
    "[integration][postgres][snapshot]") {
  TestDb db("it_snap_kill");
  CreateItems(db, 100000);
  TempDir dir("snap-kill");
  WriteFile(dir.File("sluice.yaml"),
            WithSourceOptions(StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"),
                              "    snapshot_parallelism: 3\n    snapshot_chunk_rows: 1000\n"));
  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 100000, 11, 100000);
  std::vector<DoneRanges> at_kill;  // what the state file said after each kill
  std::vector<size_t> run_end;      // where each run's output ends in out.jsonl
  size_t done_before = 0;
  for (int round = 0; round < 6; ++round) {
    auto sluice = StartSluice(dir);
    // Kill once this run has recorded at least two more finished ranges.
    REQUIRE(WaitFor(
        [&] {
          auto st = PgState(dir, "items");
          if (!st.is_object() || !st["snapshot"].contains("public.items")) return false;
          return st["snapshot"]["public.items"]["done"].size() >= done_before + 2;
        },
        seconds(60)));
    sluice->Signal(SIGKILL);
    REQUIRE(sluice->Wait(seconds(10)) == -SIGKILL);
    at_kill.push_back(ReadDone(dir));
    REQUIRE_FALSE(at_kill.back().table_done);  // the kill hit the snapshot, not the stream
    // About 100 ranges; rows inserted before the plan was made can add one.
    REQUIRE(at_kill.back().bounds.size() >= 90);
    done_before = at_kill.back().done.size();
    run_end.push_back(ReadFile(dir.File("out.jsonl")).size());
  }
  stop = true;
  writer.join();
  auto sluice = StartSluice(dir);
  RequireConverged(db, dir);
  CHECK(ReadDone(dir).table_done);

  // Every run after a kill read no key of a range recorded as finished at that kill.
  std::string out = ReadFile(dir.File("out.jsonl"));
  run_end.push_back(out.size());
  for (size_t k = 0; k < at_kill.size(); ++k) {
    std::vector<int64_t> later = ReadIds(out, run_end[k], out.size());
    size_t reread = 0;
    for (int64_t id : later) reread += at_kill[k].Covers(id) ? 1 : 0;
    INFO("kill " << k << ": " << at_kill[k].done.size() << " ranges done, " << later.size()
                 << " rows read after it");
    CHECK(reread == 0);  // (ranges in progress at a kill are read again, and rows keep coming)
  }
  CHECK(LogHas(dir, "snapshot progress: public.items"));
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

}  // namespace sluice::test
