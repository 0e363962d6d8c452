// ALTER TABLE while streaming under a write load: with on_schema_change: follow (the
// default) every change goes on with the new columns, one log line per change of the table;
// with `stop` the pipeline stops before passing on any change made after it.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "support/applied_state.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

// The applied state of `columns` for every row, against the table's.
bool ColumnsMatch(TestDb& db, const TempDir& dir, const std::vector<std::string>& columns) {
  auto applied = ApplyJsonLines(dir.File("out.jsonl")).tables["public.items"];
  auto table = TableAsText(db, "items", columns, {"id"});
  if (applied.size() != table.size()) return false;
  for (const auto& [key, row] : table) {
    auto it = applied.find(key);
    if (it == applied.end()) return false;
    for (const std::string& c : columns) {
      auto v = it->second.find(c);
      if (v == it->second.end() || v->second != row.at(c)) return false;
    }
  }
  return true;
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("Schema changes: columns added, dropped, renamed and retyped mid-stream are followed",
          "[integration][postgres][schema]") {
  TestDb db("it_schema_follow");
  CreateItems(db, 500);
  // Rows the write load never touches (it changes ids 1 to 500): markers for each step.
  db.Exec("INSERT INTO items VALUES (0, 'marker', 0, 0), (-1, 'ranked', 0, 0)");
  TempDir dir("schema-follow");
  WriteFile(dir.File("sluice.yaml"),
            StdoutConfig(dir, db.Dsn(), "  items: src.public.items | out\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline items: streaming"); }, seconds(60)));
  // A change before the first step: the stream has described the table as it was.
  db.Exec("UPDATE items SET qty = 999 WHERE id = 0");
  REQUIRE(WaitFor(
      [&] { return ReadFile(dir.File("out.jsonl")).find("\"qty\":999") != std::string::npos; },
      seconds(60)));
  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 1000000, 3, 500);

  // Each step waits until a change made after it has arrived, so every step is seen alone.
  const std::vector<std::string> steps = {
      "ALTER TABLE items ADD COLUMN note text DEFAULT 'n'",
      "ALTER TABLE items ADD COLUMN rank int NOT NULL DEFAULT 0",
      "ALTER TABLE items RENAME COLUMN note TO remark",
      "ALTER TABLE items ALTER COLUMN rank TYPE bigint",
      "ALTER TABLE items DROP COLUMN remark",
      "ALTER TABLE items REPLICA IDENTITY FULL",
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    db.Exec(steps[i]);
    db.Exec("UPDATE items SET qty = " + std::to_string(1000 + i) + " WHERE id = 0");
    INFO(steps[i]);
    bool arrived = WaitFor(
        [&] {
          return ReadFile(dir.File("out.jsonl")).find("\"qty\":" + std::to_string(1000 + i)) !=
                 std::string::npos;
        },
        seconds(60));
    if (!arrived) {
      stop = true;
      writer.join();
    }
    INFO(ReadFile(dir.File("stderr.log")).substr(0, 20000));
    REQUIRE(arrived);
  }
  db.Exec("UPDATE items SET \"rank\" = 7 WHERE id = -1");
  stop = true;
  writer.join();
  REQUIRE(WaitFor(
      [&] {
        return ColumnsMatch(db, dir, {"id", "name", "qty", "price"});
      },
      seconds(120)));
  auto applied = ApplyJsonLines(dir.File("out.jsonl")).tables["public.items"];
  CHECK(applied.at("{\"id\":-1}").at("rank") == "7");
  CHECK(applied.at("{\"id\":-1}").count("remark") == 0);  // its last change had no such column
  std::string log = ReadFile(dir.File("stderr.log"));
  INFO(log.substr(0, 20000));
  // One line per change of the table (a Relation message sent again unchanged is none).
  CHECK(Occurrences(log, "table public.items changed:") == steps.size());
  CHECK(log.find("remark 25") != std::string::npos);
  CHECK(log.find("rank 20") != std::string::npos);  // the new type, bigint
  CHECK(log.find("replica identity f") != std::string::npos);
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("Schema changes: on_schema_change: stop stops the pipeline before the change passes",
          "[integration][postgres][schema]") {
  TestDb db("it_schema_stop");
  CreateItems(db, 100);
  TempDir dir("schema-stop");
  WriteFile(dir.File("sluice.yaml"),
            SluiceConfig(dir, db.Dsn(),
                         "  out:\n    type: stdout\n    path: " + dir.File("out.jsonl") + "\n",
                         "  items: src.public.items | out\n", "    on_schema_change: stop\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline items: streaming"); }, seconds(60)));
  db.Exec("UPDATE items SET qty = 500 WHERE id = 1");
  REQUIRE(WaitFor(
      [&] { return ReadFile(dir.File("out.jsonl")).find("\"qty\":500") != std::string::npos; },
      seconds(60)));
  db.Exec("ALTER TABLE items ADD COLUMN note text");
  db.Exec("UPDATE items SET qty = 501, note = 'after' WHERE id = 1");
  int rc = sluice->Wait(seconds(60));
  std::string log = ReadFile(dir.File("stderr.log"));
  INFO(log.substr(0, 20000));
  CHECK(rc == 1);
  CHECK(log.find("table public.items changed:") != std::string::npos);
  CHECK(log.find("on_schema_change is stop") != std::string::npos);
  CHECK(ReadFile(dir.File("out.jsonl")).find("\"qty\":501") == std::string::npos);
}

}  // namespace sluice::test
