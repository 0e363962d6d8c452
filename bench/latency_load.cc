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
//                 [--wait-port PORT --wait-pipeline NAME [--wait-out waits.txt]]
//
// With --wait-port, each writer also takes pg_current_wal_insert_lsn() after its COMMIT (as
// the README's read-your-writes recipe does) and 64 waiter threads, one keep-alive
// connection each, ask sluice's GET /wait on 127.0.0.1:PORT for it: commit-to-/wait-answer
// latency, measured beside commit-to-visible in the same run. Extra output fields:
// "wait_p50_ms=.. wait_p90_ms=.. wait_p99_ms=.. wait_p999_ms=.. wait_max_ms=.. wait_failed=N".
//
// The table must exist: (id bigint primary key, payload text, ...) and be empty.
// Output, one line on stdout:
//   "rows=N rate=R p50_ms=.. p90_ms=.. p99_ms=.. p999_ms=.. max_ms=.. missing=M"
// --out gets one latency in milliseconds per line, in id order (the schedule's). Exits 1 on
// an error or if keys were still missing 30 s after the last commit.
#include <hiredis/hiredis.h>
#include <httplib.h>
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
  int wait_port = 0;  // 0: no /wait
  std::string wait_pipeline;
  std::string wait_out;
};

constexpr size_t kWaiters = 64;

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
    } else if (flag == "--wait-port") {
      a.wait_port = std::stoi(value);
    } else if (flag == "--wait-pipeline") {
      a.wait_pipeline = value;
    } else if (flag == "--wait-out") {
      a.wait_out = value;
    } else {
      Fail("unknown flag " + flag);
    }
  }
  if (a.dsn.empty()) Fail("--dsn is required");
  if (a.wait_port != 0 && a.wait_pipeline.empty()) Fail("--wait-port needs --wait-pipeline");
  if (a.rate == 0 || a.seconds == 0 || a.connections == 0) {
    Fail("--rate, --seconds and --connections must be positive");
  }
  return a;
}

// What the threads share. committed_at[i] is written before done[i] is set (release), and
// read after seeing it set (acquire); appeared_at belongs to the reader.
struct Shared {
  explicit Shared(size_t rows)
      : committed_at(rows),
        appeared_at(rows),
        lsn(rows),
        answered_at(rows),
        done(new std::atomic<bool>[rows]) {
    for (size_t i = 0; i < rows; ++i) done[i] = false;
  }
  std::vector<Clock::time_point> committed_at;
  std::vector<Clock::time_point> appeared_at;
  std::vector<std::string> lsn;                // with --wait-port, written before done[i]
  std::vector<Clock::time_point> answered_at;  // /wait answered 200; the waiters'
  std::atomic<size_t> wait_failed{0};
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
  if (a.wait_port != 0) {
    std::unique_ptr<PGresult, decltype(&PQclear)> p(
        PQprepare(conn.get(), "lsn", "SELECT pg_current_wal_insert_lsn()", 0, nullptr), PQclear);
    if (PQresultStatus(p.get()) != PGRES_COMMAND_OK) Fail(PQerrorMessage(conn.get()));
  }
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
    if (a.wait_port != 0) {
      std::unique_ptr<PGresult, decltype(&PQclear)> l(
          PQexecPrepared(conn.get(), "lsn", 0, nullptr, nullptr, nullptr, 0), PQclear);
      if (PQresultStatus(l.get()) != PGRES_TUPLES_OK) Fail(PQerrorMessage(conn.get()));
      s.lsn[i] = PQgetvalue(l.get(), 0, 0);
    }
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

// Waiter `k` asks /wait for rows k, k + kWaiters, ... in order, each once it is committed.
void WaitFor(const Args& a, Shared& s, size_t k) {
  httplib::Client http("127.0.0.1", a.wait_port);
  http.set_keep_alive(true);
  http.set_read_timeout(20, 0);
  const size_t rows = s.committed_at.size();
  for (size_t i = k; i < rows && !s.failed; i += kWaiters) {
    while (!s.done[i].load(std::memory_order_acquire)) {
      if (s.writers_left == 0 || s.failed) return;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    auto r = http.Get("/wait?pipeline=" + a.wait_pipeline + "&lsn=" + s.lsn[i] + "&timeout=10s");
    if (r && r->status == 200) {
      s.answered_at[i] = Clock::now();
    } else {
      s.wait_failed.fetch_add(1);
    }
  }
}

// Milliseconds from commit to `at` for the rows that have it, in id order.
std::vector<double> Latencies(const Shared& s, const std::vector<Clock::time_point>& at) {
  std::vector<double> ms;
  for (size_t i = 0; i < s.committed_at.size(); ++i) {
    if (at[i] == Clock::time_point()) continue;  // never seen
    ms.push_back(std::chrono::duration<double, std::milli>(at[i] - s.committed_at[i]).count());
  }
  return ms;
}

void WriteLatencies(const std::string& path, const std::vector<double>& ms) {
  if (path.empty()) return;
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "w"), std::fclose);
  if (!f) Fail("cannot write " + path);
  for (double v : ms) std::fprintf(f.get(), "%.3f\n", v);
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
  std::vector<std::thread> waiters;
  for (size_t k = 0; a.wait_port != 0 && k < kWaiters; ++k) {
    waiters.emplace_back(WaitFor, std::cref(a), std::ref(s), k);
  }
  std::vector<std::thread> writers;
  auto start = Clock::now();
  for (size_t w = 0; w < a.connections; ++w) {
    writers.emplace_back(Write, std::cref(a), std::ref(s), w, a.connections, start);
  }
  for (auto& t : writers) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  reader.join();
  for (auto& t : waiters) t.join();
  if (s.failed) return 1;
  size_t committed = 0;
  for (size_t i = 0; i < s.committed_at.size(); ++i) committed += s.done[i] ? 1 : 0;
  double achieved_rate = static_cast<double>(committed) / secs;

  std::vector<double> ms = Latencies(s, s.appeared_at);
  WriteLatencies(a.out, ms);
  std::sort(ms.begin(), ms.end());
  size_t missing = s.committed_at.size() - seen;
  std::printf(
      "rows=%zu rate=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f "
      "missing=%zu",
      s.committed_at.size(), achieved_rate, Percentile(ms, 0.5), Percentile(ms, 0.9),
      Percentile(ms, 0.99), Percentile(ms, 0.999), ms.empty() ? 0.0 : ms.back(), missing);
  if (a.wait_port != 0) {
    std::vector<double> w = Latencies(s, s.answered_at);
    WriteLatencies(a.wait_out, w);
    std::sort(w.begin(), w.end());
    std::printf(
        " wait_p50_ms=%.2f wait_p90_ms=%.2f wait_p99_ms=%.2f wait_p999_ms=%.2f wait_max_ms=%.2f "
        "wait_failed=%zu",
        Percentile(w, 0.5), Percentile(w, 0.9), Percentile(w, 0.99), Percentile(w, 0.999),
        w.empty() ? 0.0 : w.back(), s.wait_failed.load());
  }
  std::printf("\n");
  return missing == 0 ? 0 : 1;
}
