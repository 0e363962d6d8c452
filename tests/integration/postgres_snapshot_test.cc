// The PostgreSQL snapshot in key ranges: parallel readers under concurrent writes, and
// kill -9 at many points inside it, against the real PostgreSQL that scripts/test starts.
#include <libpq-fe.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <set>
#include <string_view>
#include <thread>

#include "connectors/postgres/snapshot_reader.h"
#include "integration/postgres_test_util.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

// `items` with `rows` rows in `db`, and DIR/sluice.yaml piping it to the stdout sink `out`
// with `options` (source option lines) added.
void ItemsToStdout(TestDb& db, const TempDir& dir, int rows, const std::string& options) {
  CreateItems(db, rows);
  WriteFile(
      dir.File("sluice.yaml"),
      WithSourceOptions(StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"), options));
}

void SnapshotUnderWrites(int parallelism) {
  TestDb db("it_snap_par" + std::to_string(parallelism));
  TempDir dir("snap-par" + std::to_string(parallelism));
  ItemsToStdout(db, dir, 20000,
                "    snapshot_parallelism: " + std::to_string(parallelism) +
                    "\n    snapshot_chunk_rows: 1500\n");
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

struct ReadLine {
  size_t offset;
  int64_t id;
};

// The `read` lines of out.jsonl: where each starts and its id. Only lines that begin as a
// read are parsed (the stream's lines are most of the file).
std::vector<ReadLine> ReadLines(const std::string& text) {
  static const std::string kRead = R"({"op":"read",)";
  std::vector<ReadLine> out;
  for (size_t pos = 0, end; (end = text.find('\n', pos)) != std::string::npos; pos = end + 1) {
    if (text.compare(pos, kRead.size(), kRead) != 0) continue;
    auto j = nlohmann::json::parse(text.substr(pos, end - pos), nullptr, false);
    if (j.is_object()) out.push_back({pos, j["key"]["id"].get<int64_t>()});
  }
  return out;
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
  TempDir dir("snap-kill");
  ItemsToStdout(db, dir, 100000, "    snapshot_parallelism: 3\n    snapshot_chunk_rows: 1000\n");
  std::atomic<bool> stop{false};
  // Bounded: enough to write through the first rounds; a writer running until the end
  // only makes the output (which the checks parse) larger.
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 15000, 11, 100000);
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
  std::vector<ReadLine> reads = ReadLines(ReadFile(dir.File("out.jsonl")));
  for (size_t k = 0; k < at_kill.size(); ++k) {
    size_t later = 0, reread = 0;
    for (const ReadLine& r : reads) {
      if (r.offset < run_end[k]) continue;
      ++later;
      reread += at_kill[k].Covers(r.id) ? 1 : 0;
    }
    INFO("kill " << k << ": " << at_kill[k].done.size() << " ranges done, " << later
                 << " rows read after it");
    CHECK(reread == 0);  // (ranges in progress at a kill are read again, and rows keep coming)
  }
  CHECK(LogHas(dir, "snapshot progress: public.items"));
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

// The log line that says how public.items was split ("" before it is logged).
std::string SplitLine(const TempDir& dir) {
  std::string log = ReadFile(dir.File("stderr.log"));
  auto at = log.find("public.items splits into");
  return at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
}

TEST_CASE("PostgresSnapshot: a large analyzed table is split by its key's statistics",
          "[integration][postgres][snapshot]") {
  TestDb db("it_snap_stats");
  TempDir dir("snap-stats");
  ItemsToStdout(db, dir, 100000, "    snapshot_chunk_rows: 20000\n");
  // What the statistics say must be the test's doing: no autovacuum ANALYZE between the
  // test's changes and sluice's plan, and the insert's row counts reported before the
  // ANALYZE below resets them (a backend may hold its counts back for up to a second, and
  // counts reported after the ANALYZE would make it stale).
  db.Exec("ALTER TABLE items SET (autovacuum_enabled = off)");
  db.Exec("SELECT pg_stat_force_next_flush()");
  auto changed_since_analyze = [&] {
    return std::stol(
        db.Query("SELECT coalesce(n_mod_since_analyze, -1) FROM "
                 "pg_stat_user_tables WHERE relname = 'items'")[0][0]);
  };
  SECTION("fresh statistics: ranges from the histogram, each about as long as asked") {
    db.Exec("ANALYZE items");
    REQUIRE(changed_since_analyze() == 0);
    auto sluice = StartSluice(dir);
    RequireConverged(db, dir);
    CHECK(SplitLine(dir) ==
          "public.items splits into 5 key ranges (from the key column's statistics)");
    // ANALYZE's sample is 30,000 rows; a 5% block sample is about 40 blocks of keys.
    std::string log = ReadFile(dir.File("stderr.log"));
    for (int r = 0; r < 5; ++r) {
      std::string tag = "range " + std::to_string(r) + " of 5 read (";
      auto at = log.find(tag);
      REQUIRE(at != std::string::npos);
      long rows = std::stol(log.substr(at + tag.size()));
      INFO("range " << r << ": " << rows << " rows");
      CHECK(std::abs(rows - 20000) <= 2000);
    }
    CHECK(ReadKeysAreUnique(ApplyJsonLines(dir.File("out.jsonl"))));
    sluice->Signal(SIGTERM);
    CHECK(sluice->Wait(seconds(30)) == 0);
  }
  SECTION("statistics older than a fifth of the rows changed: a block sample") {
    db.Exec("ANALYZE items");
    db.Exec("UPDATE items SET qty = qty + 1 WHERE id % 4 = 0");  // 25% of the rows changed
    REQUIRE(WaitFor([&] { return changed_since_analyze() >= 25000; }, seconds(30)));
    auto sluice = StartSluice(dir);
    // How the table was split is logged before it is read (the reading is the other
    // section's and the other tests' concern).
    CHECK(WaitFor([&] { return !SplitLine(dir).empty(); }, seconds(60)));
    std::string split = SplitLine(dir);
    INFO(split);
    CHECK(split.find("% block sample of the key)") != std::string::npos);
    sluice->Signal(SIGTERM);
    CHECK(sluice->Wait(seconds(30)) == 0);
  }
}

// Where the lines of `table` start in `text` (out.jsonl): its snapshot rows and its
// streamed changes.
struct TableLines {
  std::vector<size_t> reads;
  std::vector<size_t> streamed;
};

TableLines LinesOf(const std::string& text, const std::string& table) {
  TableLines out;
  const std::string tag = "\"table\":\"" + table + "\"";
  std::string_view all(text);
  for (size_t pos = 0, end; (end = all.find('\n', pos)) != std::string::npos; pos = end + 1) {
    std::string_view line = all.substr(pos, end - pos);
    if (line.find(tag) == std::string::npos) continue;
    (line.rfind(R"({"op":"read",)", 0) == 0 ? out.reads : out.streamed).push_back(pos);
  }
  return out;
}

TEST_CASE("PostgresSnapshot: a table added later is read while the other tables stream",
          "[integration][postgres][snapshot]") {
  TestDb db("it_snap_added");
  TempDir dir("snap-added");
  ItemsToStdout(db, dir, 2000, "");
  db.Exec("CREATE TABLE extra (LIKE items INCLUDING ALL)");
  db.Exec(
      "INSERT INTO extra SELECT g, 'extra ' || g, g % 100, g * 0.5 FROM generate_series(1, "
      "100000) g");
  auto done_tables = [&] {
    auto st = PgState(dir, "items");
    return st.is_object() ? st["tables_done"] : nlohmann::json();
  };
  {  // The pipeline streams `items` alone.
    auto sluice = StartSluice(dir);
    RequireConverged(db, dir);
    REQUIRE(WaitFor([&] { return done_tables() == nlohmann::json::array({"public.items"}); },
                    seconds(30)));
    sluice->Signal(SIGTERM);
    REQUIRE(sluice->Wait(seconds(30)) == 0);
  }

  // `extra` joins the pipeline; both tables are written to throughout, and the first run
  // with it is killed in the middle of its snapshot.
  WriteFile(dir.File("sluice.yaml"),
            WithSourceOptions(
                StdoutConfig(dir, db.Dsn(), "  items: src.public.items, src.public.extra | out\n"),
                "    snapshot_parallelism: 2\n    snapshot_chunk_rows: 2000\n"));
  std::atomic<bool> stop{false};
  std::thread items_writer([&] {  // a steady trickle: an update of `items` every 10 ms
    PGconn* c = PQconnectdb(TestDb::ServerDsn(db.name()).c_str());
    for (int i = 0; !stop; ++i) {
      std::string sql = "UPDATE items SET qty = " + std::to_string(i) +
                        " WHERE id = " + std::to_string(1 + i % 2000);
      PQclear(PQexec(c, sql.c_str()));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    PQfinish(c);
  });
  // Runs that streamed with `extra`'s changes held back: each gets its share of writes to
  // `extra` while it reads it.
  auto held_runs = [&] {
    std::string log = ReadFile(dir.File("stderr.log"));
    size_t n = 0;
    for (size_t at = 0;
         (at = log.find("the changes of the tables being read held back", at)) != std::string::npos;
         ++at) {
      ++n;
    }
    return n;
  };
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return held_runs() == 1; }, seconds(60)));
  std::thread extra_writer(WriteTableLoad, "extra", db.name(), std::ref(stop), 3000, 6, 100000);
  REQUIRE(WaitFor(
      [&] {
        auto st = PgState(dir, "items");
        return st.is_object() && st["snapshot"].contains("public.extra") &&
               st["snapshot"]["public.extra"]["done"].size() >= 2;
      },
      seconds(90)));
  sluice->Signal(SIGKILL);
  REQUIRE(sluice->Wait(seconds(10)) == -SIGKILL);
  REQUIRE(done_tables() == nlohmann::json::array({"public.items"}));  // killed mid-snapshot
  size_t killed_end = ReadFile(dir.File("out.jsonl")).size();

  sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return held_runs() == 2; }, seconds(60)));
  extra_writer.join();
  std::thread extra_writer2(WriteTableLoad, "extra", db.name(), std::ref(stop), 3000, 7, 100000);
  REQUIRE(WaitFor([&] { return done_tables().size() == 2; }, seconds(120)));
  stop = true;
  items_writer.join();
  extra_writer2.join();
  RequireConverged(db, dir, {"items", "extra"});
  CHECK(LogHas(dir, "snapshot of the added tables handed on; replaying the stream"));
  CHECK_FALSE(LogHas(dir, "PostgreSQL unavailable"));  // the replay is not an outage

  std::string text = ReadFile(dir.File("out.jsonl"));
  TableLines items = LinesOf(text, "items");
  TableLines extra = LinesOf(text, "extra");
  REQUIRE(!extra.reads.empty());
  REQUIRE(!extra.streamed.empty());
  // No row of `extra` is read after any change of it was streamed: a sink that keeps no
  // tombstones (a compacted topic) could otherwise bring back a deleted row.
  CHECK(extra.reads.back() < extra.streamed.front());
  // The run after the kill streamed `items` changes while it was still reading `extra`.
  size_t streamed_meanwhile = 0;
  for (size_t at : items.streamed) {
    streamed_meanwhile += at >= killed_end && at < extra.reads.back() ? 1 : 0;
  }
  CHECK(extra.reads.back() > killed_end);
  CHECK(streamed_meanwhile > 0);
  // The hold on the slot ended: it confirms up to the WAL written after the writers stopped.
  std::string end = db.Query("SELECT pg_current_wal_lsn()::text")[0][0];
  CHECK(WaitFor(
      [&] {
        return db.Query("SELECT confirmed_flush_lsn >= '" + end +
                        "'::pg_lsn FROM pg_replication_slots WHERE database = "
                        "current_database()")[0][0] == "t";
      },
      seconds(60)));
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("PendingConns: the readers' connections open together, extras are closed",
          "[integration][postgres][snapshot]") {
  TestDb db("it_snap_conns");
  // Backends of this database other than the test's own connection.
  auto others = [&] {
    return std::stoi(
        db.Query("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                 "current_database() AND pid <> pg_backend_pid()")[0][0]);
  };
  pg::PendingConns pending;
  pending.Open(db.Dsn(), 3);
  auto taken = pending.Take(db.Dsn(), 2);
  REQUIRE(taken.ok());
  REQUIRE(taken->size() == 2);
  std::set<std::string> pids;
  for (auto& conn : *taken) {
    auto r = conn.Exec("SELECT pg_backend_pid()");
    REQUIRE(r.ok());
    pids.insert(pg::GetText(r->get(), 0, 0));
  }
  CHECK(pids.size() == 2);
  // The third was opened, then closed by Take.
  CHECK(WaitFor([&] { return others() == 2; }, seconds(10)));

  // Nothing pending: Take opens them itself; more than were pending: it opens the rest.
  auto fresh = pending.Take(db.Dsn(), 2);
  REQUIRE(fresh.ok());
  CHECK(fresh->size() == 2);
  pending.Open(db.Dsn(), 1);
  auto topped = pending.Take(db.Dsn(), 3);
  REQUIRE(topped.ok());
  CHECK(topped->size() == 3);
  CHECK(WaitFor([&] { return others() == 7; }, seconds(10)));

  // A server that is not there: the first error, nothing held.
  auto bad = pending.Take("host=127.0.0.1 port=1 dbname=x connect_timeout=2", 2);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("cannot connect to PostgreSQL") != std::string::npos);
}

}  // namespace sluice::test
