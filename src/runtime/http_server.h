// HttpServer: the operations endpoints -- /healthz, /readyz, /metrics, /status,
// /status/history, /wait, and the status page at / -- on
// sluice's own event-driven HTTP/1.1 server (http_loop.h). Health endpoints are always
// open; on a listener that is not loopback, the others need "Authorization: Bearer TOKEN"
// (or Basic with the token as password, which is what a browser can send for the page).
//
// Why not cpp-httplib's server: it gives each connection a pool thread for the
// connection's whole life, and its read timeout restarts with every byte. Two idle
// connections on its two threads delayed /healthz by seconds and two slow-header ones kept
// it from answering at all, so any peer that can reach the port could fail the liveness
// probe. A bigger pool only moves the number; the long-polled waits planned next (thousands
// of clients waiting, none worth a thread) need the other model altogether: one loop
// thread with deadlines and a connection limit, requests handed to handlers that answer
// when they can. cpp-httplib stays the client (FetchEndpoint) and in tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/metrics.h"
#include "core/status.h"
#include "runtime/batch_worker.h"
#include "runtime/http_limits.h"
#include "runtime/http_reply.h"
#include "runtime/http_request.h"
#include "runtime/report.h"

namespace sluice {

class HttpLoop;

struct HttpSettings {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port
  std::string token;                      // empty: no token asked (loopback only)
  HttpServerLimits limits;
};

// What the endpoints show; called from the server's threads, so each must be thread-safe.
struct HttpHandlers {
  std::function<DaemonReport()> report;
  std::function<std::string()> metrics;  // Prometheus text
  // POST /reload: starts a reload and calls `answer` (any thread) with the HTTP status and
  // body once it is done. Unset: 404.
  std::function<void(std::function<void(int status, nlohmann::json body)> answer)> reload;
  // /wait, on the loop's thread: must not block; answers through the reply, maybe later.
  // Empty: /wait answers 404.
  std::function<void(const HttpRequest&, HttpReply)> wait;
  // /status/history?since=UNIX_MS (StatusHistory::Json). Empty: it answers 404.
  std::function<nlohmann::json(int64_t)> history;
};

// Owned by the daemon, which keeps what the handlers read alive until Stop() returns.
// Start() and Stop() from the owner's thread. Threads: the loop's, one that computes
// reports (for /healthz, /readyz and /status, one report per batch of requests) and one
// that renders /metrics, so a slow scrape never delays a probe.
class HttpServer {
 public:
  // `metrics` receives the server's own (sluice_http_connections_*).
  HttpServer(HttpSettings settings, HttpHandlers handlers, MetricScope metrics = {});
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Resolves and binds (Unavailable when the address is taken; InvalidArgument when the
  // host does not resolve, or when no token is set and the bound address is not loopback)
  // and starts serving.
  Status Start();
  // Stops serving and joins the server's threads. Idempotent.
  void Stop();
  // The bound port (useful with port 0).
  int port() const { return port_; }

 private:
  void Handle(HttpRequest request, HttpReply reply);
  bool Authorized(const HttpRequest& request) const;

  HttpSettings settings_;
  HttpHandlers handlers_;
  MetricScope metrics_;
  BatchWorker<DaemonReport> reports_;
  BatchWorker<std::string> scrapes_;
  std::unique_ptr<HttpLoop> loop_;
  int port_ = 0;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// Sends `method` (GET or POST, empty body) for `path` to a running sluice whose http.listen
// is `listen` (0.0.0.0 and :: are reached through loopback), with the bearer token when one
// is given, waiting up to `timeout` for the answer; any HTTP status is an answer.
// Unavailable when sluice cannot be reached.
Result<HttpAnswer> CallEndpoint(const std::string& listen, const std::string& token,
                                const std::string& method, const std::string& path,
                                std::chrono::milliseconds timeout);

// A GET whose answer must be 200: its body; Unavailable otherwise.
Result<std::string> FetchEndpoint(const std::string& listen, const std::string& token,
                                  const std::string& path);

// `text` with every byte but RFC 3986's unreserved ones percent-encoded, for a query value.
std::string PercentEncode(const std::string& text);

}  // namespace sluice
