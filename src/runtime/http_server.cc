#include "runtime/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "runtime/config.h"

namespace sluice {

namespace {

constexpr const char* kJson = "application/json";
// Prometheus text exposition format, version 0.0.4.
constexpr const char* kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";

// Compares without an early exit, so the time taken does not reveal a token's prefix.
bool SameToken(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(2) + "\n", kJson);
}

}  // namespace

HttpServer::HttpServer(HttpSettings settings, HttpHandlers handlers)
    : settings_(std::move(settings)),
      handlers_(std::move(handlers)),
      server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route() {
  // Endpoints that reveal configuration (names of pipelines, sinks, positions) need the
  // token when one is set; the health checks orchestrators poll never do.
  auto authorized = [this](const httplib::Request& req, httplib::Response& res) {
    if (settings_.token.empty()) return true;
    if (SameToken(req.get_header_value("Authorization"), "Bearer " + settings_.token)) {
      return true;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    SendJson(res, 401, {{"error", "this endpoint needs Authorization: Bearer <http.token>"}});
    return false;
  };
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    bool ok = false;
    nlohmann::json body = HealthJson(handlers_.report(), &ok);
    SendJson(res, ok ? 200 : 503, body);
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool ok = false;
    nlohmann::json body = ReadyJson(handlers_.report(), &ok);
    SendJson(res, ok ? 200 : 503, body);
  });
  server_->Get("/metrics", [this, authorized](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    res.set_content(handlers_.metrics(), kPrometheusText);
  });
  server_->Get("/status", [this, authorized](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    SendJson(res, 200, StatusJson(handlers_.report()));
  });
}

Status HttpServer::Start() {
  const std::string& listen = settings_.listen;
  size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = std::stoi(listen.substr(colon + 1));
  Route();
  server_->set_keep_alive_max_count(10);
  server_->set_read_timeout(5, 0);
  server_->set_write_timeout(5, 0);
  // Two workers: scrapes and probes are small, and the machine is the database's.
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
  } else if (server_->bind_to_port(host, port)) {
    port_ = port;
  }
  if (port_ <= 0) {
    return Status::Unavailable("http: cannot listen on " + listen +
                               " (address in use, or not an address of this machine)");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // Stop() only interrupts a server that is running: wait until it is, so that a Stop()
  // right after Start() cannot be missed.
  for (int i = 0; i < 2000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  spdlog::info("http: listening on {}:{} (/healthz /readyz /metrics /status{})", host, port_,
               settings_.token.empty() ? "" : "; /metrics and /status need the token");
  return Status::Ok();
}

Result<std::string> FetchEndpoint(const std::string& listen, const std::string& token,
                                  const std::string& path) {
  size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  httplib::Client client(host, std::stoi(listen.substr(colon + 1)));
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  if (!token.empty()) client.set_bearer_token_auth(token);
  auto res = client.Get(path.c_str());
  if (!res) {
    return Status::Unavailable("cannot reach sluice at " + listen + ": " +
                               httplib::to_string(res.error()));
  }
  if (res->status != 200) {
    return Status::Unavailable(path + " answered HTTP " + std::to_string(res->status) + ": " +
                               res->body);
  }
  return res->body;
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace sluice
