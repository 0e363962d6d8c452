// Bounded memory: a single transaction of 1,000,000 rows and one 50 MB jsonb value pass
// through `postgres | stdout` while the sluice process's peak RSS stays under the documented
// bound (README, "Limits": 256 MB with default settings).
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "integration/postgres_test_util.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

constexpr int64_t kBoundKb = 256 * 1024;

// VmHWM (peak resident set) of process `pid` in kB, from /proc.
int64_t PeakRssKb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  FAIL("no VmHWM in /proc/" << pid << "/status");
  return -1;
}

}  // namespace

TEST_CASE("PostgresMemory: a 1,000,000-row transaction and a 50 MB jsonb value in bounded memory",
          "[integration][postgres][memory]") {
  TestDb db("it_memory");
  db.Exec("CREATE TABLE big (id bigint PRIMARY KEY, v int, pad text)");
  db.Exec("CREATE TABLE doc (id int PRIMARY KEY, body jsonb)");
  TempDir dir("memory");
  WriteFile(dir.File("sluice.yaml"), StdoutConfig(dir, db.Dsn(), "  mem: src.public.* | out\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "streaming from slot"); }, seconds(60)));
  int64_t start_kb = PeakRssKb(sluice->pid());

  db.Exec("INSERT INTO big SELECT g, g, 'row ' || g FROM generate_series(1, 1000000) g");
  REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) >= 1000000; }, seconds(300)));
  int64_t after_txn_kb = PeakRssKb(sluice->pid());

  // About 50 MB of JSON text: 1.4 million 32-character strings in one array.
  db.Exec(
      "INSERT INTO doc SELECT 1, jsonb_build_object('ids', jsonb_agg(md5(g::text))) "
      "FROM generate_series(1, 1400000) g");
  auto size = db.Query("SELECT length(body::text) FROM doc");
  REQUIRE(std::stoll(size[0][0]) > 50'000'000);
  REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) >= 1000001; }, seconds(300)));
  int64_t peak_kb = PeakRssKb(sluice->pid());
  WARN("peak RSS: at start " << start_kb << " kB, after 1M rows " << after_txn_kb
                             << " kB, after 50 MB jsonb " << peak_kb << " kB");
  CHECK(after_txn_kb < kBoundKb);
  CHECK(peak_kb < kBoundKb);

  // Every row once, then the document (parsing a million lines here would cost the test
  // far more memory than sluice used).
  CHECK(CountLines(dir.File("out.jsonl")) == 1000001);
  std::string out = ReadFile(dir.File("out.jsonl"));
  size_t last = out.rfind('\n', out.size() - 2);
  auto doc = nlohmann::json::parse(out.substr(last + 1));
  CHECK(doc["table"] == "doc");
  CHECK(doc["after"]["body"]["ids"].size() == 1400000);
  auto first = nlohmann::json::parse(out.substr(0, out.find('\n')));
  CHECK(first["op"] == "insert");
  CHECK(first["table"] == "big");
  CHECK(doc["lsn"] != first["lsn"]);
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(60)) == 0);
}

}  // namespace sluice::test
