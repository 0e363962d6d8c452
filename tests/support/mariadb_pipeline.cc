#include "support/mariadb_pipeline.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "support/applied_state.h"

namespace sluice::test {

static const std::vector<std::string> kCols = {"id", "name", "qty", "price"};

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
std::map<std::string, std::map<std::string, std::string>> TableRows(TestMariaDb& db) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& r : db.Query("SELECT id, name, qty, price FROM items ORDER BY id")) {
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < kCols.size(); ++i) row[kCols[i]] = r[i];
    nlohmann::json key = {{"id", std::stoll(r[0])}};
    out[key.dump()] = row;
  }
  return out;
}

std::string MariaConfig(const TempDir& dir, TestMariaDb& db, int chunk_rows) {
  static std::atomic<int> next_id{100 + static_cast<int>(std::random_device{}() % 100000)};
  return "state_dir: " + dir.File("state") + "\nhttp:\n  listen: \"127.0.0.1:0\"\n" +
         "sources:\n  src:\n    type: mariadb\n    dsn: \"" + db.Dsn() +
         "\"\n    server_id: " + std::to_string(next_id++) +
         "\n    snapshot_chunk_rows: " + std::to_string(chunk_rows) +
         "\nsinks:\n  out:\n    type: stdout\n    path: " + dir.File("out.jsonl") +
         "\npipelines:\n  p: src." + db.name() + ".items | out\n";
}

bool MariaEqual(TestMariaDb& db, const TempDir& dir) {
  auto applied = ApplyJsonLines(dir.File("out.jsonl"));
  return applied.tables[db.name() + ".items"] == TableRows(db);
}

void RequireMariaEqual(TestMariaDb& db, const TempDir& dir) {
  bool ok = WaitFor([&] { return MariaEqual(db, dir); }, std::chrono::seconds(60));
  if (!ok) {
    auto applied = ApplyJsonLines(dir.File("out.jsonl"));
    INFO("applied rows " << applied.tables[db.name() + ".items"].size() << ", table rows "
                         << TableRows(db).size() << "\n"
                         << ReadFile(dir.File("stderr.log")));
    FAIL("the sink does not equal the table");
  }
}

// Inserts, updates (one of them to the key), deletes, a multi-statement transaction.
void MariaChanges(TestMariaDb& db, int base) {
  std::string b = std::to_string(base);
  db.Exec("INSERT INTO items VALUES (" + b + "1, 'new', 1, 0.5), (" + b + "2, 'new2', 2, NULL)");
  db.Exec("UPDATE items SET qty = qty + 1000, name = 'upd' WHERE id % 7 = 3");
  db.Exec("DELETE FROM items WHERE id % 11 = 5");
  db.Exec("UPDATE items SET id = " + b + "3 WHERE id = " + b + "2");
  db.Exec("BEGIN; INSERT INTO items VALUES (" + b +
          "4, 'txn', 4, 4.25); UPDATE items SET price = " + "price * 2 WHERE id = " + b +
          "1; DELETE FROM items WHERE id = 2; COMMIT");
}

}  // namespace sluice::test
