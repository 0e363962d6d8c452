// bench_es_bulk: the limit the elasticsearch sink is compared with. Builds, before the clock
// starts, the exact _bulk bodies the sink would send for what the generate source produces
// (same rows, same _id, same external_gte versions, same batch size), then POSTs them with
// libcurl over N keep-alive connections at once and prints the documents per second.
//
//   bench_es_bulk --url http://127.0.0.1:9200 --index bench --docs 1000000
//                 [--payload-bytes 100] [--bulk-actions 1000] [--connections 1]
//
// Output, one line on stdout: "docs=N requests=R seconds=S docs_per_s=D".
// Exits 1 if any request or bulk item failed.
#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connectors/generate/generate_source.h"
#include "sinks/elasticsearch/es_builder.h"

namespace {

struct Args {
  std::string url;
  std::string index = "bench";
  uint64_t docs = 1000000;
  uint64_t payload_bytes = 100;
  size_t bulk_actions = 1000;
  int connections = 1;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "bench_es_bulk: %s\nusage: bench_es_bulk --url URL [--index NAME] [--docs N] "
               "[--payload-bytes N] [--bulk-actions N] [--connections N]\n",
               why);
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Usage(("missing value after " + flag).c_str());
    std::string value = argv[++i];
    if (flag == "--url") {
      a.url = value;
    } else if (flag == "--index") {
      a.index = value;
    } else if (flag == "--docs") {
      a.docs = std::stoull(value);
    } else if (flag == "--payload-bytes") {
      a.payload_bytes = std::stoull(value);
    } else if (flag == "--bulk-actions") {
      a.bulk_actions = std::stoull(value);
    } else if (flag == "--connections") {
      a.connections = std::stoi(value);
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (a.url.empty()) Usage("--url is required");
  if (a.bulk_actions == 0 || a.connections < 1) Usage("sizes must be positive");
  return a;
}

// The bodies the sink would send: the generate source's changes (one per transaction, so
// each has its own commit LSN, as with transaction_changes=1), through the sink's own
// builder, cut every bulk_actions documents.
std::vector<std::string> BuildBodies(const Args& a) {
  using namespace sluice;
  es::EsSinkOptions options;
  options.index_template = a.index;
  auto table = std::make_shared<const TableId>(TableId{"gen", "public", "generated"});
  const uint64_t start_lsn = 0x1000000;  // the generate source's default start_lsn
  const int64_t commit_time_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  std::vector<std::string> bodies;
  std::string body;
  size_t in_body = 0;
  for (uint64_t n = 0; n < a.docs; ++n) {
    Change c;
    c.op = Op::kInsert;
    c.table = table;
    c.key = {{"id", Value::Of(ValueKind::kInt, std::to_string(n + 1))}};
    c.after = generate::GeneratedRow(n + 1, n, commit_time_us, a.payload_bytes);
    c.position = Position{Lsn(start_lsn + n), 0};
    c.commit_time_us = commit_time_us;
    c.xid = static_cast<uint32_t>(n + 1);
    auto items = es::ItemsFor(c, options, a.index);
    if (!items.ok()) {
      std::fprintf(stderr, "bench_es_bulk: %s\n", items.status().ToString().c_str());
      std::exit(1);
    }
    for (const es::BulkItem& item : *items) es::AppendBulkItem(item, &body);
    if (++in_body == a.bulk_actions) {
      bodies.push_back(std::move(body));
      body.clear();
      in_body = 0;
    }
  }
  if (in_body != 0) bodies.push_back(std::move(body));
  return bodies;
}

size_t Collect(char* data, size_t size, size_t nmemb, void* out) {
  static_cast<std::string*>(out)->append(data, size * nmemb);
  return size * nmemb;
}

// Posts bodies[next++] until none is left, on one keep-alive connection.
bool PostAll(const Args& a, const std::vector<std::string>& bodies, std::atomic<size_t>& next) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Content-Type: application/x-ndjson"), curl_slist_free_all);
  std::string url = a.url + "/_bulk";
  std::string answer;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &answer);
  for (size_t i = next++; i < bodies.size(); i = next++) {
    answer.clear();
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, bodies[i].data());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(bodies[i].size()));
    CURLcode rc = curl_easy_perform(curl.get());
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    // A _bulk answer starts {"took":N,"errors":false,...}: a cheap check, no JSON parse.
    if (rc != CURLE_OK || status != 200 || answer.find("\"errors\":false") == std::string::npos) {
      std::fprintf(stderr, "bench_es_bulk: request %zu failed: %s, HTTP %ld: %.300s\n", i,
                   curl_easy_strerror(rc), status, answer.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = ParseArgs(argc, argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::vector<std::string> bodies = BuildBodies(a);

  std::atomic<size_t> next{0};
  std::atomic<bool> ok{true};
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < a.connections; ++t) {
    threads.emplace_back([&] {
      if (!PostAll(a, bodies, next)) ok = false;
    });
  }
  for (auto& t : threads) t.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  curl_global_cleanup();
  if (!ok) return 1;
  std::printf("docs=%llu requests=%zu seconds=%.3f docs_per_s=%.0f\n",
              static_cast<unsigned long long>(a.docs), bodies.size(), seconds,
              static_cast<double>(a.docs) / seconds);
  return 0;
}
