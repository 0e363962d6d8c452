// Reloading the config of a running sluice (sluice reload, POST /reload, SIGHUP): a new
// pipeline starts, an unchanged one runs on untouched (no restart, no replay), a changed one
// restarts alone, a removed one stops and keeps its slot, and an invalid file is refused as
// a whole while everything keeps running.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "http_support.h"
#include "support/applied_state.h"
#include "support/raw_http.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

std::string Sinks(const TempDir& dir) {
  return "  out:\n    type: stdout\n    path: " + dir.File("out.jsonl") +
         "\n  side:\n    type: stdout\n    path: " + dir.File("side.jsonl") + "\n";
}

// `sluice reload --address 127.0.0.1:PORT`: exit code, with its stdout and stderr.
int Reload(const TempDir& dir, int port, std::string* out, std::string* err) {
  int rc = RunSluice({"reload", "--address", "127.0.0.1:" + std::to_string(port)},
                     dir.File("reload.out"), dir.File("reload.err"), seconds(60));
  *out = ReadFile(dir.File("reload.out"));
  *err = ReadFile(dir.File("reload.err"));
  UNSCOPED_INFO("sluice reload exited " << rc << "; stdout: " << *out << "; stderr: " << *err);
  return rc;
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Every line of the stdout sink's file is a change at its own position: a line seen twice
// was sent twice (a replay).
size_t DuplicateLines(const std::string& path) {
  std::string text = ReadFile(path);
  std::set<std::string> seen;
  size_t dups = 0;
  size_t from = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', from)) {
    if (!seen.insert(text.substr(from, nl - from)).second) ++dups;
    from = nl + 1;
  }
  return dups;
}

size_t SlotCount(TestDb& db, const std::string& like) {
  auto rows =
      db.Query("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '" + like + "'");
  return static_cast<size_t>(std::stoul(rows.at(0).at(0)));
}

}  // namespace

TEST_CASE(
    "Reload: an added pipeline starts while the running one goes on untouched, an invalid file "
    "is refused, a removed pipeline stops and keeps its slot",
    "[integration][reload]") {
  TestDb db("it_reload_add");
  CreateItems(db, 300);
  db.Exec("CREATE TABLE others (id bigint PRIMARY KEY, name text, qty int, price numeric(14,3))");
  db.Exec("INSERT INTO others SELECT g, 'other ' || g, g, 1.5 FROM generate_series(1, 150) g");
  TempDir dir("reload-add");
  const std::string one = "  items: src.public.items | out\n";
  const std::string two = one + "  others: src.public.others | side\n";
  WriteFile(dir.File("sluice.yaml"), SluiceConfig(dir, db.Dsn(), Sinks(dir), one));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline items: streaming"); }, seconds(60)));
  int port = HttpPort(dir);
  REQUIRE(port > 0);

  std::atomic<bool> stop{false};
  std::thread writer(WriteLoad, db.name(), std::ref(stop), 1000000, 5, 300);
  size_t lines = CountLines(dir.File("out.jsonl"));
  REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) > lines + 50; }, seconds(60)));

  // Add a pipeline.
  WriteFile(dir.File("sluice.yaml"), SluiceConfig(dir, db.Dsn(), Sinks(dir), two));
  std::string out;
  std::string err;
  REQUIRE(Reload(dir, port, &out, &err) == 0);
  CHECK(out.find("added: others") != std::string::npos);
  CHECK(out.find("unchanged: items") != std::string::npos);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline others: streaming"); }, seconds(60)));
  CHECK(ApplyJsonLines(dir.File("side.jsonl")).reads == 150);
  // /wait knows the added pipeline.
  db.Exec("UPDATE others SET qty = qty + 1 WHERE id = 1");
  const std::string lsn = db.Query("SELECT pg_current_wal_insert_lsn()::text").at(0).at(0);
  HttpAnswer waited = HttpGet(port, "/wait?pipeline=others&lsn=" + lsn + "&timeout=30s");
  INFO(waited.body);
  CHECK(waited.status == 200);

  // An invalid file: refused with its location, and nothing stops.
  WriteFile(dir.File("sluice.yaml"),
            SluiceConfig(dir, db.Dsn(), Sinks(dir), two + "  broken: src.public.items | nosuch\n"));
  CHECK(Reload(dir, port, &out, &err) == 1);
  INFO(err);
  CHECK(err.find("sluice.yaml:") != std::string::npos);
  CHECK(err.find("unknown sink 'nosuch'") != std::string::npos);
  CHECK(LogHas(dir, "the running config stays in force"));

  // A web page cannot make the daemon reload (a browser sends Origin with its POST).
  RawConnection raw(port);
  REQUIRE(
      raw.Send("POST /reload HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n"
               "Content-Length: 0\r\n\r\n"));
  auto refused = raw.Read(seconds(10));
  REQUIRE(refused.has_value());
  CHECK(refused->status == 403);

  // SIGHUP with the pipeline removed again: it stops, its slot stays.
  WriteFile(dir.File("sluice.yaml"), SluiceConfig(dir, db.Dsn(), Sinks(dir), one));
  sluice->Signal(SIGHUP);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline others stopped"); }, seconds(60)));
  CHECK(LogHas(dir, "pipeline others removed from the config"));
  CHECK(SlotCount(db, "sluice_it_reload_add_others") == 1);
  CHECK(HttpGet(port, "/wait?pipeline=others&lsn=" + lsn).status == 404);

  // Still streaming, and the first pipeline was never restarted nor replayed.
  lines = CountLines(dir.File("out.jsonl"));
  REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) > lines + 50; }, seconds(60)));
  stop = true;
  writer.join();
  RequireConverged(db, dir);
  std::string log = ReadFile(dir.File("stderr.log"));
  CHECK(Occurrences(log, "pipeline items: started") == 1);
  CHECK(DuplicateLines(dir.File("out.jsonl")) == 0);
  sluice->Signal(SIGTERM);
  INFO(log.substr(0, 20000));
  CHECK(sluice->Wait(seconds(30)) == 0);
}

TEST_CASE("Reload: a changed pipeline restarts alone and resumes from its slot",
          "[integration][reload]") {
  TestDb db("it_reload_change");
  CreateItems(db, 200);
  db.Exec("CREATE TABLE others (id bigint PRIMARY KEY, name text, qty int, price numeric(14,3))");
  db.Exec("INSERT INTO others SELECT g, 'other ' || g, g, 1.5 FROM generate_series(1, 50) g");
  TempDir dir("reload-change");
  const std::string items = "  items: src.public.items | out\n";
  WriteFile(dir.File("sluice.yaml"), SluiceConfig(dir, db.Dsn(), Sinks(dir),
                                                  items + "  others: src.public.others | side\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline items: streaming"); }, seconds(60)));
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline others: streaming"); }, seconds(60)));
  int port = HttpPort(dir);

  // `others` now drops a column: it restarts, `items` does not.
  WriteFile(dir.File("sluice.yaml"),
            SluiceConfig(dir, db.Dsn(), Sinks(dir),
                         items + "  others: src.public.others | drop price | side\n"));
  HttpAnswer answer = HttpGet(port, "/reload");
  CHECK(answer.status == 405);  // POST only
  std::string out;
  std::string err;
  REQUIRE(Reload(dir, port, &out, &err) == 0);
  CHECK(out.find("restarted: others") != std::string::npos);
  CHECK(out.find("unchanged: items") != std::string::npos);
  REQUIRE(WaitFor([&] { return LogHas(dir, "pipeline others stopped"); }, seconds(60)));
  REQUIRE(WaitFor(
      [&] {
        return Occurrences(ReadFile(dir.File("stderr.log")), "pipeline others: started") == 2;
      },
      seconds(60)));
  db.Exec("UPDATE others SET name = 'changed' WHERE id = 7");
  db.Exec("UPDATE items SET name = 'changed' WHERE id = 7");
  REQUIRE(WaitFor(
      [&] {
        auto side = ApplyJsonLines(dir.File("side.jsonl"));
        for (const auto& c : side.changes) {
          if (c.value("op", "") == "update" && c["after"].contains("name") &&
              c["after"]["name"] == "changed") {
            return !c["after"].contains("price");  // the new transform applies
          }
        }
        return false;
      },
      seconds(60)));
  RequireConverged(db, dir);
  auto side = ApplyJsonLines(dir.File("side.jsonl"));
  CHECK(side.reads == 50);  // resumed from its slot: no second snapshot
  std::string log = ReadFile(dir.File("stderr.log"));
  CHECK(Occurrences(log, "pipeline items: started") == 1);
  sluice->Signal(SIGTERM);
  INFO(log.substr(0, 20000));
  CHECK(sluice->Wait(seconds(30)) == 0);
}

}  // namespace sluice::test
