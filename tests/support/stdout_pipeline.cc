#include "support/stdout_pipeline.h"

#include <catch2/catch.hpp>
#include <random>
#include <thread>
#include <utility>

namespace sluice::test {

const std::vector<std::string> kItemCols = {"id", "name", "qty", "price"};

std::string SluiceConfig(const TempDir& dir, const std::string& dsn, const std::string& sinks,
                         const std::string& pipes, const std::string& source_extra) {
  // Port 0: parallel tests never collide on the endpoints' default port 8080.
  return "state_dir: " + dir.File("state") + "\nhttp:\n  listen: \"127.0.0.1:0\"\n" +
         "sources:\n  src:\n    type: postgres\n" + "    dsn: \"" + dsn + "\"\n" + source_extra +
         "sinks:\n" + sinks + "pipelines:\n" + pipes;
}

std::string StdoutConfig(const TempDir& dir, const std::string& dsn, const std::string& pipes) {
  return SluiceConfig(dir, dsn,
                      "  out:\n    type: stdout\n    path: " + dir.File("out.jsonl") + "\n", pipes);
}

std::unique_ptr<SluiceProcess> StartSluice(const TempDir& dir) {
  return std::make_unique<SluiceProcess>(
      std::vector<std::string>{"run", "-c", dir.File("sluice.yaml")}, dir.File("stdout.log"),
      dir.File("stderr.log"));
}

bool LogHas(const TempDir& dir, const std::string& text) {
  return ReadFile(dir.File("stderr.log")).find(text) != std::string::npos;
}

void CreateItems(TestDb& db, int rows) {
  db.Exec("CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, price numeric(14,3))");
  db.Exec("INSERT INTO items SELECT g, 'item ' || g, g % 100, g * 1.125 FROM generate_series(1, " +
          std::to_string(rows) + ") g");
}

void WriteLoad(const std::string& dbname, std::atomic<bool>& stop, int max_txns, int seed,
               int key_range) {
  WriteTableLoad("items", dbname, stop, max_txns, seed, key_range);
}

void WriteTableLoad(const std::string& table, const std::string& dbname, std::atomic<bool>& stop,
                    int max_txns, int seed, int key_range) {
  PGconn* c = PQconnectdb(TestDb::ServerDsn(dbname).c_str());
  std::mt19937 rng(seed);
  int next_id = 1000000 + seed * 100000;
  for (int i = 0; i < max_txns && !stop; ++i) {
    if (PQstatus(c) != CONNECTION_OK) {
      PQreset(c);
      std::this_thread::sleep_for(
          std::chrono::milliseconds(50));  // pacing while the server is down
      continue;
    }
    std::string id = std::to_string(1 + static_cast<int>(rng() % static_cast<unsigned>(key_range)));
    std::string sql;
    switch (rng() % 6) {
      case 0:
        sql = "INSERT INTO " + table + " VALUES (" + std::to_string(++next_id) + ", 'new', 1, 2.5)";
        break;
      case 1:
        sql = "DELETE FROM " + table + " WHERE id = " + id;
        break;
      case 2:
        // Several changes of the same rows in one transaction.
        sql = "BEGIN; UPDATE " + table + " SET qty = qty + 1 WHERE id BETWEEN " + id + " AND " +
              id + " + 50; UPDATE " + table + " SET name = 'twice' WHERE id = " + id +
              "; INSERT INTO " + table + " VALUES (" + std::to_string(++next_id) +
              ", 'txn', 7, 0.001); COMMIT";
        break;
      case 3:
        sql = "UPDATE " + table + " SET name = NULL WHERE id = " + id;
        break;
      default:
        sql = "UPDATE " + table + " SET name = 'upd " + std::to_string(i) +
              "', price = price + 0.5 WHERE id = " + id;
    }
    PQclear(PQexec(c, sql.c_str()));
  }
  PQfinish(c);
}

bool Converged(TestDb& db, const TempDir& dir, const std::vector<std::string>& tables) {
  auto applied = ApplyJsonLines(dir.File("out.jsonl"));
  for (const std::string& t : tables) {
    if (applied.tables["public." + t] != TableAsText(db, t, kItemCols, {"id"})) return false;
  }
  return true;
}

void RequireConverged(TestDb& db, const TempDir& dir, const std::vector<std::string>& tables) {
  // Parsing the whole output is not cheap (over 100 MB in some tests, under ASan): compare
  // only once the file has stopped growing from one poll to the next, and again at most
  // once a second while it stays the same.
  size_t last_lines = static_cast<size_t>(-1);
  size_t checked_lines = static_cast<size_t>(-1);
  auto last_check = std::chrono::steady_clock::now();
  bool ok = WaitFor(
      [&] {
        size_t lines = CountLines(dir.File("out.jsonl"));
        if (lines != std::exchange(last_lines, lines)) return false;  // still growing
        auto now = std::chrono::steady_clock::now();
        if (lines == checked_lines && now - last_check < std::chrono::seconds(1)) return false;
        checked_lines = lines;
        last_check = now;
        return Converged(db, dir, tables);
      },
      std::chrono::seconds(120));
  if (!ok) {
    auto applied = ApplyJsonLines(dir.File("out.jsonl"));
    std::string sizes;
    for (const std::string& t : tables) {
      sizes += t + ": applied rows " + std::to_string(applied.tables["public." + t].size()) +
               ", table rows " + std::to_string(TableAsText(db, t, kItemCols, {"id"}).size()) +
               "; ";
    }
    INFO(sizes << "lines " << applied.lines << "\nstderr:\n" << ReadFile(dir.File("stderr.log")));
    CHECK(ok);
  }
}

}  // namespace sluice::test
