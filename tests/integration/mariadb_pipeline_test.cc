// `mariadb | stdout` end to end against the throwaway MariaDB of scripts/test: the snapshot
// and then the binary log reach the sink equal to the table, also across kill -9.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <random>

#include "support/applied_state.h"
#include "support/mariadb_test_db.h"
#include "support/stdout_pipeline.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

using Rows = std::map<std::string, std::map<std::string, std::string>>;

const std::vector<std::string> kCols = {"id", "name", "qty", "price"};

void CreateMariaItems(TestMariaDb& db, int rows) {
  db.Exec(
      "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(100), qty INT, price "
      "DECIMAL(14,3))");
  if (rows > 0) {
    db.Exec(
        "INSERT INTO items SELECT seq, CONCAT('item ', seq), seq % 100, seq * 1.125 FROM "
        "seq_1_to_" +
        std::to_string(rows));
  }
}

// The table as AppliedState keys it: {"id":N} -> column -> text.
Rows TableRows(TestMariaDb& db) {
  Rows out;
  for (const auto& r : db.Query("SELECT id, name, qty, price FROM items ORDER BY id")) {
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < kCols.size(); ++i) row[kCols[i]] = r[i];
    nlohmann::json key = {{"id", std::stoll(r[0])}};
    out[key.dump()] = row;
  }
  return out;
}

std::string Config(const TempDir& dir, TestMariaDb& db, int chunk_rows) {
  static std::atomic<int> next_id{100 + static_cast<int>(std::random_device{}() % 100000)};
  return "state_dir: " + dir.File("state") + "\nhttp:\n  listen: \"127.0.0.1:0\"\n" +
         "sources:\n  src:\n    type: mariadb\n    dsn: \"" + db.Dsn() +
         "\"\n    server_id: " + std::to_string(next_id++) +
         "\n    snapshot_chunk_rows: " + std::to_string(chunk_rows) +
         "\nsinks:\n  out:\n    type: stdout\n    path: " + dir.File("out.jsonl") +
         "\npipelines:\n  p: src." + db.name() + ".items | out\n";
}

bool Equal(TestMariaDb& db, const TempDir& dir) {
  auto applied = ApplyJsonLines(dir.File("out.jsonl"));
  return applied.tables[db.name() + ".items"] == TableRows(db);
}

void RequireEqual(TestMariaDb& db, const TempDir& dir) {
  bool ok = WaitFor([&] { return Equal(db, dir); }, std::chrono::seconds(60));
  if (!ok) {
    auto applied = ApplyJsonLines(dir.File("out.jsonl"));
    INFO("applied rows " << applied.tables[db.name() + ".items"].size() << ", table rows "
                         << TableRows(db).size() << "\n"
                         << ReadFile(dir.File("stderr.log")));
    FAIL("the sink does not equal the table");
  }
}

// Inserts, updates (one of them to the key), deletes, a multi-statement transaction.
void Changes(TestMariaDb& db, int base) {
  std::string b = std::to_string(base);
  db.Exec("INSERT INTO items VALUES (" + b + "1, 'new', 1, 0.5), (" + b + "2, 'new2', 2, NULL)");
  db.Exec("UPDATE items SET qty = qty + 1000, name = 'upd' WHERE id % 7 = 3");
  db.Exec("DELETE FROM items WHERE id % 11 = 5");
  db.Exec("UPDATE items SET id = " + b + "3 WHERE id = " + b + "2");
  db.Exec("BEGIN; INSERT INTO items VALUES (" + b +
          "4, 'txn', 4, 4.25); UPDATE items SET price = " + "price * 2 WHERE id = " + b +
          "1; DELETE FROM items WHERE id = 2; COMMIT");
}

TEST_CASE("mariadb | stdout: snapshot then binary log changes equal the table",
          "[integration][mariadb]") {
  TestMariaDb db("sluice_it_mdb_pipe");
  CreateMariaItems(db, 300);
  TempDir dir("sluice-mdb");
  WriteFile(dir.File("sluice.yaml"), Config(dir, db, 100));
  auto sluice = StartSluice(dir);
  RequireEqual(db, dir);
  auto applied = ApplyJsonLines(dir.File("out.jsonl"));
  CHECK(applied.reads == 300);
  Changes(db, 9000);
  RequireEqual(db, dir);
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
  WriteFile(dir.File("sluice.yaml"), Config(dir, db, 500));
  {
    auto sluice = StartSluice(dir);
    REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) > 1000; },
                    std::chrono::seconds(60)));
    sluice->Signal(SIGKILL);
    sluice->Wait(std::chrono::seconds(10));
  }
  size_t lines_at_kill = CountLines(dir.File("out.jsonl"));
  CHECK(lines_at_kill < 20000);  // it was killed inside the snapshot
  Changes(db, 7000);             // while it is down: read by the resumed snapshot or the stream
  {
    auto sluice = StartSluice(dir);
    RequireEqual(db, dir);
    Changes(db, 8000);
    RequireEqual(db, dir);
    sluice->Signal(SIGKILL);
    sluice->Wait(std::chrono::seconds(10));
  }
  Changes(db, 6000);
  auto sluice = StartSluice(dir);
  RequireEqual(db, dir);
  // The restart resumed at a chunk: far fewer snapshot rows than two whole reads.
  CHECK(ApplyJsonLines(dir.File("out.jsonl")).reads < 2 * 20000);
}

}  // namespace
}  // namespace sluice::test
