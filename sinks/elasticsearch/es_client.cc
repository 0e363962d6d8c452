#include "sinks/elasticsearch/es_client.h"

#include <curl/curl.h>
#include <zlib.h>

#include <mutex>

#include "sinks/elasticsearch/es_builder.h"

namespace sluice::es {

namespace {

CURL* Handle(void* p) { return static_cast<CURL*>(p); }

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// The one CURLcode -> Status mapping. Everything that goes wrong in transport is worth a
// retry except a broken TLS configuration, which will not fix itself.
Status ToStatus(CURLcode code, const char* errbuf, const std::string& what) {
  std::string msg = what + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(code));
  switch (code) {
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return Status::InvalidArgument(msg);
    default:
      return Status::Unavailable(msg);
  }
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

EsClient::EsClient(EsClientOptions options) : options_(std::move(options)) {
  GlobalInit();
  curl_ = curl_easy_init();
  if (!options_.api_key.empty()) auth_header_ = "Authorization: ApiKey " + options_.api_key;
}

EsClient::~EsClient() {
  if (curl_) curl_easy_cleanup(Handle(curl_));
}

Result<HttpResponse> EsClient::Request(const std::string& method, const std::string& path,
                                       const std::string& body, const std::string& content_type) {
  CURL* c = Handle(curl_);
  if (!c) return Status::Internal("curl_easy_init failed");
  std::string what = method + " " + path;
  std::string url = options_.url + path;
  std::string gz;
  const std::string* payload = &body;
  if (options_.gzip && !body.empty()) {
    gz = Gzip(body);
    payload = &gz;
  }
  HttpResponse response;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  if (!body.empty())
    headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
  if (!gz.empty()) headers = curl_slist_append(headers, "Content-Encoding: gzip");
  if (!auth_header_.empty()) headers = curl_slist_append(headers, auth_header_.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip

  // The handle is reused: options persist between requests, so every one is set each time.
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  // Compressed answers only with `gzip: true`: compressing every _bulk answer costs the
  // cluster CPU that a local network does not need (and "" would also offer brotli, which
  // some servers compress very slowly). Elasticsearch compresses with gzip/deflate only.
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, options_.gzip ? "gzip" : nullptr);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!options_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(c, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, options_.password.c_str());
  }
  CurlTlsSettings tls = TlsSettingsFor(options_);
  if (!tls.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, tls.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, tls.verify_peer);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, tls.verify_host);

  if (method == "HEAD" || method == "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, nullptr);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload->size()));
  }
  CURLcode code = curl_easy_perform(c);
  curl_slist_free_all(headers);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  if (code != CURLE_OK) return ToStatus(code, errbuf, what);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Status HttpStatus(const HttpResponse& r, const std::string& what) {
  if (r.status >= 200 && r.status < 300) return Status::Ok();
  std::string msg = what + " answered HTTP " + std::to_string(r.status);
  if (!r.body.empty()) msg += ": " + ErrorSummary(r.body);
  if (r.status == 401 || r.status == 403) {
    return Status::InvalidArgument(msg + " (check username/password or api_key)");
  }
  if (r.status == 429 || r.status >= 500) return Status::Unavailable(msg);
  return Status::InvalidArgument(msg);
}

std::string Gzip(const std::string& in) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of a zlib one.
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return {};
  std::string out;
  out.resize(deflateBound(&zs, in.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace sluice::es
