// bench_latency: commit-to-visible latency of a PostgreSQL -> Redis pipeline under a steady
// write load. One thread inserts rows (one per transaction) at a set rate and records when
// each COMMIT returned; another polls Redis (pipelined EXISTS on the oldest keys not yet
// seen) and records when each key appeared. Latency = appeared - committed, on one clock.
//
//   bench_latency --dsn "host=... dbname=..." --redis-host H --redis-port P
//                 [--table lat_items] [--key-prefix item:] [--rate 5000] [--seconds 30]
//                 [--payload-bytes 100] [--out latencies.txt]
//
// The table must exist: (id bigint primary key, payload text, ...) and be empty.
// Output, one line on stdout:
//   "rows=N rate=R p50_ms=.. p90_ms=.. p99_ms=.. p999_ms=.. max_ms=.. missing=M"
// --out gets one latency in milliseconds per line, in commit order. Exits 1 on an error or
// if keys were still missing 30 s after the last commit.
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string dsn;
  std::string redis_host = "127.0.0.1";
  int redis_port = 6379;
  std::string table = "lat_items";
  std::string key_prefix = "item:";
  uint64_t rate = 5000;
  uint64_t seconds = 30;
  size_t payload_bytes = 100;
  std::string out;
};

[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "bench_latency: %s\n", why.c_str());
  std::exit(1);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Fail("missing value after " + flag);
    std::string value = argv[++i];
    if (flag == "--dsn") {
      a.dsn = value;
    } else if (flag == "--redis-host") {
      a.redis_host = value;
    } else if (flag == "--redis-port") {
      a.redis_port = std::stoi(value);
    } else if (flag == "--table") {
      a.table = value;
    } else if (flag == "--key-prefix") {
      a.key_prefix = value;
    } else if (flag == "--rate") {
      a.rate = std::stoull(value);
    } else if (flag == "--seconds") {
      a.seconds = std::stoull(value);
    } else if (flag == "--payload-bytes") {
      a.payload_bytes = std::stoull(value);
    } else if (flag == "--out") {
      a.out = value;
    } else {
      Fail("unknown flag " + flag);
    }
  }
  if (a.dsn.empty()) Fail("--dsn is required");
  if (a.rate == 0 || a.seconds == 0) Fail("--rate and --seconds must be positive");
  return a;
}

// What both threads share. committed_at[i] is written before `committed` passes i (release),
// and read after loading it (acquire); appeared_at belongs to the reader.
struct Shared {
  explicit Shared(size_t rows) : committed_at(rows), appeared_at(rows) {}
  std::vector<Clock::time_point> committed_at;
  std::vector<Clock::time_point> appeared_at;
  std::atomic<size_t> committed{0};
  std::atomic<bool> writer_done{false};
  std::atomic<bool> failed{false};
};

// Row i has id i + 1. Paced against the schedule start + i / rate, so a slow commit is
// caught up on rather than lowering the rate.
void Write(const Args& a, Shared& s, double* achieved_rate) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(a.dsn.c_str()), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) Fail(PQerrorMessage(conn.get()));
  // The benchmark's server runs with synchronous_commit off (scripts/lib/servers.sh), where
  // WAL reaches the walsender only at the WAL writer's next round (wal_writer_delay, 200 ms):
  // that would be measured as sluice's latency. Commit as production servers do by default.
  std::unique_ptr<PGresult, decltype(&PQclear)> sync(
      PQexec(conn.get(), "SET synchronous_commit = on"), PQclear);
  if (PQresultStatus(sync.get()) != PGRES_COMMAND_OK) Fail(PQerrorMessage(conn.get()));
  std::string sql = "INSERT INTO " + a.table + " (id, payload) VALUES ($1, $2)";
  std::unique_ptr<PGresult, decltype(&PQclear)> prep(
      PQprepare(conn.get(), "ins", sql.c_str(), 2, nullptr), PQclear);
  if (PQresultStatus(prep.get()) != PGRES_COMMAND_OK) Fail(PQerrorMessage(conn.get()));
  std::string payload(a.payload_bytes, 'x');
  const size_t rows = s.committed_at.size();
  auto start = Clock::now();
  for (size_t i = 0; i < rows && !s.failed; ++i) {
    auto due = start + std::chrono::microseconds(i * 1000000 / a.rate);
    std::this_thread::sleep_until(due);
    std::string id = std::to_string(i + 1);
    const char* values[2] = {id.c_str(), payload.c_str()};
    std::unique_ptr<PGresult, decltype(&PQclear)> r(
        PQexecPrepared(conn.get(), "ins", 2, values, nullptr, nullptr, 0), PQclear);
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      std::fprintf(stderr, "bench_latency: insert: %s", PQerrorMessage(conn.get()));
      s.failed = true;
      break;
    }
    s.committed_at[i] = Clock::now();
    s.committed.store(i + 1, std::memory_order_release);
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  *achieved_rate = static_cast<double>(s.committed.load()) / secs;
  s.writer_done = true;
}

// Returns how many keys were seen. Changes reach Redis in commit order (one Lua script per
// batch), so only the leading run of present keys is taken each round; a key present
// behind a missing one is asked again, which can only make its latency look larger.
size_t Read(const Args& a, Shared& s) {
  std::unique_ptr<redisContext, decltype(&redisFree)> redis(
      redisConnect(a.redis_host.c_str(), a.redis_port), redisFree);
  if (!redis || redis->err) Fail("redis connect: " + std::string(redis ? redis->errstr : "oom"));
  constexpr size_t kWindow = 256;
  const size_t rows = s.committed_at.size();
  size_t next = 0;
  Clock::time_point give_up = Clock::time_point::max();
  while (next < rows && !s.failed) {
    size_t avail = s.committed.load(std::memory_order_acquire);
    if (s.writer_done && give_up == Clock::time_point::max()) {
      give_up = Clock::now() + std::chrono::seconds(30);
    }
    if (Clock::now() > give_up) break;
    if (next == avail) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    size_t n = std::min(kWindow, avail - next);
    for (size_t j = 0; j < n; ++j) {
      std::string key = a.key_prefix + std::to_string(next + j + 1);
      redisAppendCommand(redis.get(), "EXISTS %b", key.data(), key.size());
    }
    size_t present = 0;
    bool leading = true;
    for (size_t j = 0; j < n; ++j) {
      void* raw = nullptr;
      if (redisGetReply(redis.get(), &raw) != REDIS_OK)
        Fail("redis: " + std::string(redis->errstr));
      std::unique_ptr<redisReply, decltype(&freeReplyObject)> reply(static_cast<redisReply*>(raw),
                                                                    freeReplyObject);
      if (reply->type != REDIS_REPLY_INTEGER) Fail("redis: EXISTS did not answer an integer");
      if (leading && reply->integer == 1) {
        ++present;
      } else {
        leading = false;
      }
    }
    auto now = Clock::now();
    for (size_t j = 0; j < present; ++j) s.appeared_at[next + j] = now;
    next += present;
    if (present == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return next;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  Args a = ParseArgs(argc, argv);
  Shared s(a.rate * a.seconds);
  double achieved_rate = 0;
  size_t seen = 0;
  std::thread reader([&] { seen = Read(a, s); });
  Write(a, s, &achieved_rate);
  reader.join();
  if (s.failed) return 1;

  std::vector<double> ms;
  ms.reserve(seen);
  for (size_t i = 0; i < seen; ++i) {
    ms.push_back(
        std::chrono::duration<double, std::milli>(s.appeared_at[i] - s.committed_at[i]).count());
  }
  if (!a.out.empty()) {
    std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(a.out.c_str(), "w"), std::fclose);
    if (!f) Fail("cannot write " + a.out);
    for (double v : ms) std::fprintf(f.get(), "%.3f\n", v);
  }
  std::sort(ms.begin(), ms.end());
  size_t missing = s.committed_at.size() - seen;
  std::printf(
      "rows=%zu rate=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f "
      "missing=%zu\n",
      s.committed_at.size(), achieved_rate, Percentile(ms, 0.5), Percentile(ms, 0.9),
      Percentile(ms, 0.99), Percentile(ms, 0.999), ms.empty() ? 0.0 : ms.back(), missing);
  return missing == 0 ? 0 : 1;
}
