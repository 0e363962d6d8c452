#include "runtime/http_server.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdlib>

#include "runtime/http_loop.h"
#include "runtime/listen_address.h"
#include "runtime/status_page.h"

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

HttpResponse Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = kJson;
  // Replace, not throw: a path or a pipeline's detail may hold bytes that are not UTF-8.
  r.body = body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

// The password of "Authorization: Basic base64(user:password)", so that a browser, which
// asks for a user and password when told "WWW-Authenticate: Basic", can open the page with
// the token; empty when the header is not that.
std::string BasicPassword(const std::string& header) {
  constexpr std::string_view kBasic = "Basic ";
  if (header.size() <= kBasic.size() || header.compare(0, kBasic.size(), kBasic) != 0) return "";
  const std::string encoded = header.substr(kBasic.size());
  if (encoded.size() % 4 != 0 || encoded.size() > 4096) return "";
  std::string decoded(encoded.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(encoded.data()),
                          static_cast<int>(encoded.size()));
  if (n < 0) return "";
  // EVP_DecodeBlock counts the padding's zero bytes: drop one per '='.
  size_t length = static_cast<size_t>(n);
  for (size_t i = encoded.size(); i > 0 && encoded[i - 1] == '=' && length > 0; --i) --length;
  decoded.resize(length);
  size_t colon = decoded.find(':');
  return colon == std::string::npos ? "" : decoded.substr(colon + 1);
}

enum class Endpoint { kPage, kHealth, kReady, kMetrics, kStatus, kHistory, kWait, kReload };

struct Route {
  const char* path;
  Endpoint endpoint;
  bool needs_token;   // reveals configuration (names, positions) or changes what runs
  bool post = false;  // POST only (it changes something); otherwise GET and HEAD
};

constexpr Route kRoutes[] = {
    {"/", Endpoint::kPage, true},         {"/healthz", Endpoint::kHealth, false},
    {"/readyz", Endpoint::kReady, false}, {"/metrics", Endpoint::kMetrics, true},
    {"/status", Endpoint::kStatus, true}, {"/status/history", Endpoint::kHistory, true},
    {"/wait", Endpoint::kWait, true},     {"/reload", Endpoint::kReload, true, true}};

}  // namespace

HttpServer::HttpServer(HttpSettings settings, HttpHandlers handlers, MetricScope metrics)
    : settings_(std::move(settings)),
      handlers_(std::move(handlers)),
      metrics_(std::move(metrics)),
      reports_([this] { return handlers_.report(); }),
      scrapes_([this] { return handlers_.metrics(); }) {}

HttpServer::~HttpServer() { Stop(); }

bool HttpServer::Authorized(const HttpRequest& request) const {
  if (settings_.token.empty()) return true;
  const std::string header = request.Header("Authorization");
  return SameToken(header, "Bearer " + settings_.token) ||
         SameToken(BasicPassword(header), settings_.token);
}

// On the loop's thread: answers what is cheap at once and hands the rest to the workers.
void HttpServer::Handle(HttpRequest request, HttpReply reply) {
  const Route* route = nullptr;
  for (const Route& r : kRoutes) {
    if (request.path == r.path) route = &r;
  }
  if (route == nullptr) {
    return reply.Send(Json(404, {{"error", "no endpoint " + request.path +
                                               " (endpoints: /, /healthz, /readyz, /metrics, "
                                               "/status, /status/history, /wait, POST /reload)"}}));
  }
  bool method_ok =
      route->post ? request.method == "POST" : request.method == "GET" || request.method == "HEAD";
  if (!method_ok) {
    const char* allow = route->post ? "POST" : "GET, HEAD";
    HttpResponse r = Json(405, {{"error", request.path + " answers " + allow + " only"}});
    r.headers.emplace_back("Allow", allow);
    return reply.Send(std::move(r));
  }
  // A web page may send a plain POST to a loopback address without asking first; browsers
  // always say where it came from, command-line clients do not.
  if (route->post && !request.Header("Origin").empty()) {
    return reply.Send(Json(403, {{"error", request.path + " refuses requests from web pages "
                                                          "(the request has an Origin header)"}}));
  }
  if (route->needs_token && !Authorized(request)) {
    HttpResponse r =
        Json(401, {{"error", "this endpoint needs Authorization: Bearer <http.token>"}});
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    // A browser asks for a user and password on this one; the token is the password.
    if (route->endpoint == Endpoint::kPage) {
      r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"sluice\", charset=\"UTF-8\"");
    }
    return reply.Send(std::move(r));
  }
  switch (route->endpoint) {
    case Endpoint::kHealth:
      return reports_.Submit([reply](const DaemonReport& report) {
        bool ok = false;
        nlohmann::json body = HealthJson(report, &ok);
        reply.Send(Json(ok ? 200 : 503, body));
      });
    case Endpoint::kReady:
      return reports_.Submit([reply](const DaemonReport& report) {
        bool ok = false;
        nlohmann::json body = ReadyJson(report, &ok);
        reply.Send(Json(ok ? 200 : 503, body));
      });
    case Endpoint::kStatus:
      return reports_.Submit(
          [reply](const DaemonReport& report) { reply.Send(Json(200, StatusJson(report))); });
    case Endpoint::kReload:
      if (!handlers_.reload) return reply.Send(Json(404, {{"error", "no endpoint /reload"}}));
      return handlers_.reload(
          [reply](int status, const nlohmann::json& body) { reply.Send(Json(status, body)); });
    case Endpoint::kPage: {
      HttpResponse r;
      r.content_type = "text/html; charset=utf-8";
      // The page loads nothing but itself and this server's JSON (README "Status page").
      r.headers.emplace_back("Content-Security-Policy",
                             "default-src 'none'; script-src 'unsafe-inline'; style-src "
                             "'unsafe-inline'; img-src data:; connect-src 'self'");
      r.headers.emplace_back("Cache-Control", "no-store");
      r.body = StatusPageHtml();
      return reply.Send(std::move(r));
    }
    case Endpoint::kHistory: {
      if (!handlers_.history) return reply.Send(Json(404, {{"error", "no history here"}}));
      int64_t since = 0;
      if (auto v = request.Param("since")) since = std::strtoll(v->c_str(), nullptr, 10);
      // On the report worker, off the loop: a long history takes a while to render.
      return reports_.Submit([this, reply, since](const DaemonReport&) {
        reply.Send(Json(200, handlers_.history(since)));
      });
    }
    case Endpoint::kWait:
      if (!handlers_.wait) return reply.Send(Json(404, {{"error", "/wait is not served here"}}));
      return handlers_.wait(request, std::move(reply));
    case Endpoint::kMetrics:
      return scrapes_.Submit([reply](const std::string& text) {
        HttpResponse r;
        r.content_type = kPrometheusText;
        r.body = text;
        reply.Send(std::move(r));
      });
  }
}

Status HttpServer::Start() {
  const std::string& listen = settings_.listen;
  Result<ListenSpec> spec = ParseListen(listen);
  if (!spec.ok()) return spec.status().WithContext("http");
  Result<std::vector<SocketAddress>> addresses = ResolveListen(*spec);
  if (!addresses.ok()) return addresses.status().WithContext("http: cannot listen on " + listen);
  reports_.Start();
  scrapes_.Start();
  loop_ = std::make_unique<HttpLoop>(
      settings_.limits,
      [this](HttpRequest request, HttpReply reply) {
        Handle(std::move(request), std::move(reply));
      },
      metrics_);
  if (Status s = loop_->Listen(*addresses); !s.ok()) {
    Stop();
    return s.WithContext("http");
  }
  // The config checked the names; this checks the address actually bound, which is what
  // the token rule is about.
  const SocketAddress bound = loop_->bound();
  if (settings_.token.empty() && !bound.IsLoopback()) {
    Stop();
    return Status::InvalidArgument("http: " + listen + " is bound to " + bound.ToString() +
                                   ", which is not a loopback address, and http.token is not set");
  }
  port_ = bound.port();
  spdlog::info("http: listening on {} (/ /healthz /readyz /metrics /status /wait, POST /reload{})",
               bound.ToString(),
               settings_.token.empty() ? "" : "; all but /healthz and /readyz need the token");
  return Status::Ok();
}

void HttpServer::Stop() {
  // The loop first: no request reaches the workers after it; then the workers, whose
  // unanswered requests are dropped with their connections.
  if (loop_) loop_->Stop();
  reports_.Stop();
  scrapes_.Stop();
}

Result<HttpAnswer> CallEndpoint(const std::string& listen, const std::string& token,
                                const std::string& method, const std::string& path,
                                std::chrono::milliseconds timeout) {
  // ":8080" means this machine, as "0.0.0.0:8080" does.
  Result<ListenSpec> spec = ParseListen(listen.rfind(':', 0) == 0 ? "127.0.0.1" + listen : listen);
  if (!spec.ok()) return spec.status();
  std::string host = spec->host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  httplib::Client client(host, spec->port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(timeout);
  if (!token.empty()) client.set_bearer_token_auth(token);
  auto res = method == "POST" ? client.Post(path, "", "application/json") : client.Get(path);
  if (!res) {
    return Status::Unavailable("cannot reach sluice at " + listen + ": " +
                               httplib::to_string(res.error()));
  }
  return HttpAnswer{res->status, res->body};
}

Result<std::string> FetchEndpoint(const std::string& listen, const std::string& token,
                                  const std::string& path) {
  Result<HttpAnswer> answer = CallEndpoint(listen, token, "GET", path, std::chrono::seconds(10));
  if (!answer.ok()) return answer.status();
  if (answer->status != 200) {
    return Status::Unavailable(path + " answered HTTP " + std::to_string(answer->status) + ": " +
                               answer->body);
  }
  return std::move(answer->body);
}

std::string PercentEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace sluice
