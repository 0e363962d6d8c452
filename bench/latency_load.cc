// bench_latency: commit-to-visible latency of a PostgreSQL -> Redis pipeline under a steady
// write load. Writer threads (one connection each) insert rows (one per transaction) on a
// shared schedule at a set rate and record when each COMMIT returned; another thread polls
// Redis (pipelined EXISTS on the committed keys not yet seen) and records when each key
// appeared. Latency = appeared - committed, on one clock. Several connections let the
// server group their commits' WAL flushes, as a busy application's do; one connection tops
// out at one fsync per row.
//
//   bench_latency --dsn "host=... dbname=..." --redis-host H --redis-port P
//                 [--table lat_items] [--key-prefix item:] [--rate 5000] [--seconds 30]
//                 [--connections 4] [--payload-bytes 100] [--out latencies.txt]
//
// The table must exist: (id bigint primary key, payload text, ...) and be empty.
// Output, one line on stdout:
//   "rows=N rate=R p50_ms=.. p90_ms=.. p99_ms=.. p999_ms=.. max_ms=.. missing=M"
// --out gets one latency in milliseconds per line, in id order (the schedule's). Exits 1 on
// an error or if keys were still missing 30 s after the last commit.
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
  size_t connections = 4;
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
    } else if (flag == "--connections") {
      a.connections = std::stoul(value);
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
  if (a.rate == 0 || a.seconds == 0 || a.connections == 0) {
    Fail("--rate, --seconds and --connections must be positive");
  }
  return a;
}

// What the threads share. committed_at[i] is written before done[i] is set (release), and
// read after seeing it set (acquire); appeared_at belongs to the reader.
struct Shared {
  explicit Shared(size_t rows)
      : committed_at(rows), appeared_at(rows), done(new std::atomic<bool>[rows]) {
    for (size_t i = 0; i < rows; ++i) done[i] = false;
  }
  std::vector<Clock::time_point> committed_at;
  std::vector<Clock::time_point> appeared_at;
  std::unique_ptr<std::atomic<bool>[]> done;
  std::atomic<size_t> writers_left{0};
  std::atomic<bool> failed{false};
};

// Writer `w` of `n` inserts rows w, w + n, ...; row i has id i + 1 and is due at
// start + i / rate, so a slow commit is caught up on rather than lowering the rate.
void Write(const Args& a, Shared& s, size_t w, size_t n, Clock::time_point start) {
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
  for (size_t i = w; i < rows && !s.failed; i += n) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(i * 1000000 / a.rate));
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
    s.done[i].store(true, std::memory_order_release);
  }
  s.writers_left.fetch_sub(1);
}

// Returns how many keys were seen. Each round asks about the committed rows not yet seen
// among the kWindow rows from the oldest unseen one. A row further ahead waits for the
// window to reach it, which can only make its latency look larger.
size_t Read(const Args& a, Shared& s) {
  std::unique_ptr<redisContext, decltype(&redisFree)> redis(
      redisConnect(a.redis_host.c_str(), a.redis_port), redisFree);
  if (!redis || redis->err) Fail("redis connect: " + std::string(redis ? redis->errstr : "oom"));
  constexpr size_t kWindow = 4096;
  const size_t rows = s.committed_at.size();
  std::vector<char> seen(rows, 0);
  size_t next = 0, count = 0;
  std::vector<size_t> ask;
  Clock::time_point give_up = Clock::time_point::max();
  while (next < rows && !s.failed) {
    if (s.writers_left == 0 && give_up == Clock::time_point::max()) {
      give_up = Clock::now() + std::chrono::seconds(30);
    }
    if (Clock::now() > give_up) break;
    ask.clear();
    for (size_t i = next; i < std::min(rows, next + kWindow); ++i) {
      if (!seen[i] && s.done[i].load(std::memory_order_acquire)) ask.push_back(i);
    }
    for (size_t i : ask) {
      std::string key = a.key_prefix + std::to_string(i + 1);
      redisAppendCommand(redis.get(), "EXISTS %b", key.data(), key.size());
    }
    size_t present = 0;
    for (size_t i : ask) {
      void* raw = nullptr;
      if (redisGetReply(redis.get(), &raw) != REDIS_OK)
        Fail("redis: " + std::string(redis->errstr));
      std::unique_ptr<redisReply, decltype(&freeReplyObject)> reply(static_cast<redisReply*>(raw),
                                                                    freeReplyObject);
      if (reply->type != REDIS_REPLY_INTEGER) Fail("redis: EXISTS did not answer an integer");
      if (reply->integer == 1) {
        seen[i] = 1;
        s.appeared_at[i] = Clock::now();
        ++present;
      }
    }
    count += present;
    while (next < rows && seen[next]) ++next;
    if (present == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return count;
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
  size_t seen = 0;
  s.writers_left = a.connections;  // before the reader starts: it gives up 30 s after zero
  std::thread reader([&] { seen = Read(a, s); });
  std::vector<std::thread> writers;
  auto start = Clock::now();
  for (size_t w = 0; w < a.connections; ++w) {
    writers.emplace_back(Write, std::cref(a), std::ref(s), w, a.connections, start);
  }
  for (auto& t : writers) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  reader.join();
  if (s.failed) return 1;
  size_t committed = 0;
  for (size_t i = 0; i < s.committed_at.size(); ++i) committed += s.done[i] ? 1 : 0;
  double achieved_rate = static_cast<double>(committed) / secs;

  std::vector<double> ms;
  ms.reserve(seen);
  for (size_t i = 0; i < s.committed_at.size(); ++i) {
    if (s.appeared_at[i] == Clock::time_point()) continue;  // never seen
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
