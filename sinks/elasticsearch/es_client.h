// EsClient: the HTTP transport of the elasticsearch sink, one persistent libcurl easy handle
// (so the connection is kept alive between requests), auth, TLS and optional gzip bodies.
// libcurl errors and HTTP statuses become a Status in exactly one place (ToStatus).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "sinks/elasticsearch/es_options.h"

namespace sluice::es {

struct HttpResponse {
  long status = 0;
  std::string body;
};

// Owned by the sink; used by one thread at a time.
class EsClient {
 public:
  explicit EsClient(EsClientOptions options);
  ~EsClient();
  EsClient(const EsClient&) = delete;
  EsClient& operator=(const EsClient&) = delete;

  // Sends `method path` (path starts with '/') with an optional JSON/NDJSON body.
  // A transport failure is Unavailable; any HTTP answer is returned as is.
  Result<HttpResponse> Request(const std::string& method, const std::string& path,
                               const std::string& body = "",
                               const std::string& content_type = "application/json");

  const EsClientOptions& options() const { return options_; }

 private:
  EsClientOptions options_;
  void* curl_ = nullptr;  // CURL*, kept opaque so curl.h stays in the .cc
  std::string auth_header_;
};

// Status for an HTTP answer that is not a success, naming `what` ("PUT /products"):
// 401/403 InvalidArgument (credentials), 429/502/503/504 and other 5xx Unavailable,
// other 4xx InvalidArgument. Ok for 2xx.
Status HttpStatus(const HttpResponse& r, const std::string& what);

// gzip of `in` (for Content-Encoding: gzip request bodies).
std::string Gzip(const std::string& in);

}  // namespace sluice::es
