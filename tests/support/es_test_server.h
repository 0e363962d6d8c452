// EsTestServer: an in-process HTTP server that follows Elasticsearch's documented behaviour
// for exactly what the elasticsearch sink uses (index creation, _bulk with external /
// external_gte versioning, per-item errors, get by id, _mget, _count, _refresh,
// _delete_by_query, _search with scroll), plus fault injection (429/503 answers, slow answers) and
// a record of the requests. Elasticsearch cannot be installed on our machines; see
// es_test_server.cc for the documented behaviours it follows and es_test_server_test.cc for their
// pins.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sluice::test {

struct EsRecordedRequest {
  std::string method;
  std::string path;                            // without the query string
  std::map<std::string, std::string> params;   // query string
  std::map<std::string, std::string> headers;  // names lower-cased
  size_t body_bytes = 0;                       // after gzip decoding
  // The header's value, "" when absent; `name` in lower case.
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct EsStoredDoc {
  std::string source;  // the _source JSON as stored
  uint64_t version = 0;
  std::string routing;
};

// Listens on 127.0.0.1 at a free port from construction to destruction, answering from a
// thread pool. Every public method is thread-safe. One server per test.
class EsTestServer {
 public:
  EsTestServer();
  ~EsTestServer();
  EsTestServer(const EsTestServer&) = delete;
  EsTestServer& operator=(const EsTestServer&) = delete;

  std::string url() const;  // "http://127.0.0.1:PORT"

  // --- behaviour ---
  // What GET / reports: ("elasticsearch", "8.11.0") by default, or ("opensearch", "2.11.0").
  void SetVersion(const std::string& distribution, const std::string& number);
  // Answer 401 security_exception unless the Authorization header equals `value`.
  void RequireAuthorization(const std::string& value);
  // The next `n` requests (any path) are answered with `status` (429 or 503) and an
  // Elasticsearch error body, without being applied.
  void FailNextRequests(int n, int status);
  // The next `n` _bulk items are answered with `status` (429: es_rejected_execution_exception)
  // without being applied; the rest of their request is applied normally.
  void FailNextItems(int n, int status);
  // Injected request and item failures not yet answered.
  int FailuresLeft() const;
  // Every answer is delayed by `d` (a slow cluster).
  void SetDelay(std::chrono::milliseconds d);

  // --- inspection (real-time, like GET _doc: no refresh needed) ---
  std::optional<EsStoredDoc> Doc(const std::string& index, const std::string& id) const;
  std::map<std::string, EsStoredDoc> Docs(const std::string& index) const;
  bool HasIndex(const std::string& index) const;
  // The mappings the index was created with ("{}" if none); empty if no such index.
  std::string Mappings(const std::string& index) const;
  std::vector<EsRecordedRequest> Requests() const;
  uint64_t bulk_items() const;  // _bulk items answered (any status)

  struct State;  // defined in the .cc

 private:
  std::unique_ptr<State> state_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace sluice::test
