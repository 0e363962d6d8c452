// The fault-injection suite: PostgreSQL under a continuous write load, three pipelines (a
// Redis cache, a search index on the Elasticsearch test server, a JSON-lines file), and
// faults injected while it runs. After each scenario the load stops and `sluice verify` must
// find every sink equal to the table. The short run (every scenario once) is a test; the
// long one (`scripts/faults --minutes N`) repeats scenarios in random order for N minutes.
//
// It restarts the shared PostgreSQL, so it runs alone (RUN_SERIAL).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "support/es_test_server.h"
#include "support/own_redis.h"
#include "support/stdout_pipeline.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr int kRows = 20000;

struct ScenarioResult {
  std::string name;
  int faults = 0;
  uint64_t rows_checked = 0;
  bool equal = false;
  double seconds = 0;
  std::string detail;  // verify's output when not equal
};

// One world for the whole run: the database, the servers, and sluice (restarted at will).
class World {
 public:
  World() : db_("e2e_faults"), dir_("e2e-faults"), redis_(dir_.path()) {
    CreateItems(db_, kRows);
    std::string sinks =
        "  cache:\n    type: redis\n    url: \"" + redis_.Url(1) +
        "\"\n  search:\n    type: elasticsearch\n    url: " + es_.url() +
        "\n    index: items\n  out:\n    type: stdout\n    path: " + dir_.File("out.jsonl") + "\n";
    // Small queues and batches, so a stalled sink fills them quickly.
    WriteFile(
        dir_.File("sluice.yaml"),
        SluiceConfig(dir_, db_.Dsn(), sinks,
                     "  to_cache: src.public.items | cache\n"
                     "  to_search: src.public.items | search\n"
                     "  to_file: src.public.items | out\n",
                     "    toast: lookup\n    snapshot_chunk_rows: 500\n    status_interval: 1s\n"));
    std::cout << "fault suite seed " << seed_ << std::endl;  // flushed before any fork
  }
  ~World() {
    StopLoad();
    if (sluice_) sluice_->Signal(SIGKILL);
  }

  std::mt19937& rng() { return rng_; }
  OwnRedis& redis() { return redis_; }
  EsTestServer& es() { return es_; }
  TempDir& dir() { return dir_; }

  void StartSluice() { sluice_ = test::StartSluice(dir_); }
  void KillSluice() {
    sluice_->Signal(SIGKILL);
    sluice_->Wait(seconds(10));
  }
  bool SluiceRunning() { return sluice_ && sluice_->Running(); }
  // Pipelines that have logged the start of their stream (their snapshot is read).
  size_t PipelinesStreaming() {
    std::string log = ReadFile(dir_.File("stderr.log"));
    size_t n = 0;
    for (size_t at = log.find("streaming from slot"); at != std::string::npos;
         at = log.find("streaming from slot", at + 1)) {
      ++n;
    }
    return n;
  }

  void StartLoad() {
    stop_ = false;
    int seed = static_cast<int>(rng_() % 1000);
    // Bounded, so that a sink held back by a fault has a backlog it can catch up on.
    writer_ = std::thread(WriteLoad, db_.name(), std::ref(stop_), 400, seed, kRows);
  }
  void StopLoad() {
    stop_ = true;
    if (writer_.joinable()) writer_.join();
  }
  // A transaction touching thousands of rows.
  void BigTransaction() {
    TestDb::Reconnect(db_);
    db_.Exec("UPDATE items SET qty = qty + 1 WHERE id % 9 = " + std::to_string(rng_() % 9));
  }

  // sluice verify on the running pipelines: every sink equal to the table.
  ScenarioResult Verify(ScenarioResult r) {
    if (!SluiceRunning()) {
      r.detail = "sluice is not running:\n" + ReadFile(dir_.File("stderr.log"));
      return r;
    }
    ::unlink(dir_.File("verify.out").c_str());  // RunSluice appends
    ::unlink(dir_.File("verify.err").c_str());
    int code = RunSluice({"verify", "-c", dir_.File("sluice.yaml"), "--wait", "600"},
                         dir_.File("verify.out"), dir_.File("verify.err"), seconds(900));
    std::string out = ReadFile(dir_.File("verify.out"));
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string pipeline, sink, table, rows;
      words >> pipeline >> sink >> table >> rows;
      if (table == "src.public.items") r.rows_checked += std::strtoull(rows.c_str(), nullptr, 10);
    }
    r.equal = code == 0 && out.find("every verified sink equals the source") != std::string::npos;
    if (!r.equal) r.detail = out + ReadFile(dir_.File("verify.err"));
    return r;
  }

 private:
  static unsigned Seed() {
    const char* s = std::getenv("SLUICE_FAULT_SEED");
    return s ? static_cast<unsigned>(std::strtoul(s, nullptr, 10)) : std::random_device{}();
  }

  TestDb db_;
  TempDir dir_;
  OwnRedis redis_;
  EsTestServer es_;
  unsigned seed_ = Seed();
  std::mt19937 rng_{seed_};
  std::unique_ptr<SluiceProcess> sluice_;
  std::atomic<bool> stop_{false};
  std::thread writer_;
};

milliseconds Between(std::mt19937& rng, int lo_ms, int hi_ms) {
  return milliseconds(lo_ms + static_cast<int>(rng() % static_cast<unsigned>(hi_ms - lo_ms)));
}

void Pause(milliseconds d) { std::this_thread::sleep_for(d); }  // load runs meanwhile

// Each scenario runs under write load and returns the number of faults it injected.
using Scenario = std::function<int(World&)>;

int KillNine(World& w) {
  int kills = 0;
  for (int i = 0; i < 10; ++i) {
    Pause(Between(w.rng(), 200, 2500));
    if (i % 4 == 0) w.BigTransaction();
    w.KillSluice();
    ++kills;
    w.StartSluice();
  }
  Pause(seconds(1));
  return kills;
}

int PostgresRestart(World& w) {
  Pause(Between(w.rng(), 500, 2000));
  std::string pg_ctl = RequireEnv("SLUICE_TEST_PG_CTL");
  REQUIRE(std::system((pg_ctl + " restart -m fast -w > /dev/null").c_str()) == 0);
  Pause(seconds(3));
  return 1;
}

int RedisRestart(World& w) {
  Pause(Between(w.rng(), 500, 2000));
  w.redis().Kill();
  Pause(seconds(2));
  w.redis().Start();
  Pause(seconds(2));
  return 1;
}

int SearchErrors(World& w) {
  Pause(Between(w.rng(), 300, 1500));
  // Each storm is followed by a transaction of thousands of rows, so that requests (and
  // their retries) meet it even if the bounded load has already ended.
  w.es().FailNextRequests(4, 429);
  w.BigTransaction();
  REQUIRE(WaitFor([&] { return w.es().FailuresLeft() == 0; }, seconds(120)));
  w.es().FailNextRequests(4, 503);
  w.BigTransaction();
  REQUIRE(WaitFor([&] { return w.es().FailuresLeft() == 0; }, seconds(120)));
  Pause(seconds(1));
  return 2;
}

int RedisStalled(World& w) {
  Pause(Between(w.rng(), 300, 1500));
  w.BigTransaction();
  w.redis().Stall();
  Pause(seconds(8));  // the cache pipeline's queue fills; the others go on
  w.redis().Resume();
  Pause(seconds(2));
  return 1;
}

const std::vector<std::pair<std::string, Scenario>>& Scenarios() {
  static const std::vector<std::pair<std::string, Scenario>> all = {
      {"kill -9 sluice x10", KillNine},
      {"PostgreSQL restart", PostgresRestart},
      {"Redis killed and restarted", RedisRestart},
      {"search answers 429, then 503", SearchErrors},
      {"Redis stalled (SIGSTOP)", RedisStalled},
  };
  return all;
}

ScenarioResult Run(World& w, const std::string& name, const Scenario& scenario) {
  auto start = Clock::now();
  ScenarioResult r;
  r.name = name;
  w.StartLoad();
  r.faults = scenario(w);
  w.StopLoad();
  auto verify_start = Clock::now();
  r = w.Verify(r);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << r.name << ": " << (r.equal ? "equal" : "DIFFERENT") << " after " << r.seconds
            << " s (verify " << std::chrono::duration<double>(Clock::now() - verify_start).count()
            << " s)\n"
            << (r.equal ? "" : r.detail) << std::flush;
  return r;
}

std::string Table(const std::vector<ScenarioResult>& results) {
  std::ostringstream out;
  out << std::left << std::setw(32) << "scenario" << std::right << std::setw(8) << "faults"
      << std::setw(14) << "rows checked" << std::setw(10) << "seconds"
      << "  result\n";
  for (const auto& r : results) {
    out << std::left << std::setw(32) << r.name << std::right << std::setw(8) << r.faults
        << std::setw(14) << r.rows_checked << std::setw(10) << std::fixed << std::setprecision(1)
        << r.seconds << "  " << (r.equal ? "equal" : "DIFFERENT") << "\n";
  }
  return out.str();
}

// Starts sluice and kills it once in the middle of the initial snapshot: as soon as any of
// the three pipelines has read its first key range of 40.
ScenarioResult SnapshotKill(World& w) {
  auto start = Clock::now();
  ScenarioResult r;
  r.name = "kill -9 during the snapshot";
  w.StartLoad();
  w.StartSluice();
  REQUIRE(WaitFor([&] { return LogHas(w.dir(), "snapshot of public.items range"); }, seconds(120)));
  w.KillSluice();
  // The file sink alone could see a whole snapshot in one flush; the log says whether some
  // pipeline was still snapshotting.
  CHECK(w.PipelinesStreaming() < 3);
  r.faults = 1;
  w.StartSluice();
  Pause(seconds(2));
  w.StopLoad();
  r = w.Verify(r);
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

void Report(const std::vector<ScenarioResult>& results) {
  std::cout << Table(results) << std::flush;
  for (const auto& r : results) {
    INFO(r.name << ":\n" << r.detail);
    CHECK(r.equal);
    CHECK(r.rows_checked > 0);
  }
}

}  // namespace

TEST_CASE("FaultSuite: every scenario once, every sink equal afterwards", "[e2e][disruptive]") {
  World w;
  std::vector<ScenarioResult> results = {SnapshotKill(w)};
  for (const auto& [name, scenario] : Scenarios()) results.push_back(Run(w, name, scenario));
  Report(results);
}

// scripts/faults --minutes N: scenarios in random order until N minutes have passed.
TEST_CASE("FaultSuite: long run (SLUICE_FAULT_MINUTES)", "[.][e2e-long]") {
  double minutes = std::strtod(RequireEnv("SLUICE_FAULT_MINUTES").c_str(), nullptr);
  auto until = Clock::now() + std::chrono::duration<double>(minutes * 60);
  World w;
  std::vector<ScenarioResult> results = {SnapshotKill(w)};
  // SLUICE_FAULT_ONLY: only the scenarios whose name contains it.
  const char* only = std::getenv("SLUICE_FAULT_ONLY");
  std::vector<std::pair<std::string, Scenario>> chosen;
  for (const auto& s : Scenarios()) {
    if (!only || s.first.find(only) != std::string::npos) chosen.push_back(s);
  }
  REQUIRE(!chosen.empty());
  while (Clock::now() < until) {
    const auto& [name, scenario] = chosen[w.rng()() % chosen.size()];
    results.push_back(Run(w, name, scenario));
    if (!results.back().equal) break;
  }
  Report(results);
}

}  // namespace sluice::test
