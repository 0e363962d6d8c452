// HttpServer: the operations endpoints -- /healthz, /readyz, /metrics, /status -- served by
// cpp-httplib on its own threads. Health endpoints are always open; on a listener that is not
// loopback, /metrics and /status need "Authorization: Bearer TOKEN".
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"
#include "runtime/status.h"

namespace httplib {
class Server;
}

namespace sluice {

struct HttpSettings {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port
  std::string token;                      // empty: no token asked (loopback only)
};

// What the endpoints show; called from the server's threads, so both must be thread-safe.
struct HttpHandlers {
  std::function<DaemonReport()> report;
  std::function<std::string()> metrics;  // Prometheus text
};

// Owned by the daemon, which keeps what the handlers read alive until Stop() returns.
// Start() and Stop() from the owner's thread.
class HttpServer {
 public:
  HttpServer(HttpSettings settings, HttpHandlers handlers);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (Unavailable when the address is taken) and starts serving.
  Status Start();
  // Stops serving and joins the server thread. Idempotent.
  void Stop();
  // The bound port (useful with port 0).
  int port() const { return port_; }

 private:
  void Route();

  HttpSettings settings_;
  HttpHandlers handlers_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// GETs `path` from a running sluice whose http.listen is `listen` (0.0.0.0 and :: are
// reached through loopback), with the bearer token when one is given. The body on 200.
Result<std::string> FetchEndpoint(const std::string& listen, const std::string& token,
                                  const std::string& path);

}  // namespace sluice
