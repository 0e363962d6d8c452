// EsRequestThread: one HTTP request at a time on a thread of its own, over its own EsClient
// (so its own keep-alive connection). The elasticsearch sink sends each _bulk through it and
// builds the next body, and reads the changes that follow, while the cluster works.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "sinks/elasticsearch/es_client.h"

namespace sluice::es {

// Owned by the sink. Start() and Wait() are called by the sink's thread only; the request
// runs on the thread this class owns, started on the first Start(). Destruction waits for
// the request in flight (at most the client's `timeout`).
class EsRequestThread {
 public:
  explicit EsRequestThread(EsClientOptions options);
  ~EsRequestThread();
  EsRequestThread(const EsRequestThread&) = delete;
  EsRequestThread& operator=(const EsRequestThread&) = delete;

  // Begins `POST path` with `body`. Requires that no request is in flight.
  void Start(std::string path, std::string body, std::string content_type);
  // Waits for the request in flight and returns its answer, as EsClient::Request would.
  // Requires a request in flight.
  Result<HttpResponse> Wait();
  bool in_flight() const { return in_flight_; }

 private:
  void Run();

  EsClient client_;         // used by the thread only
  bool in_flight_ = false;  // the sink thread's own view: Start() called, Wait() not yet

  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_: the request handed over, its answer, and the order to stop.
  std::optional<std::string> path_;
  std::string body_, content_type_;
  std::optional<Result<HttpResponse>> answer_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sluice::es
