#include "runtime/http_response.h"

namespace sluice {

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

const char* HttpResponse::Reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string SerializeResponse(const HttpResponse& response, int minor_version, bool keep_alive,
                              bool head) {
  std::string out;
  out.reserve(160 + (head ? 0 : response.body.size()));
  out +=
      "HTTP/1.1 " + std::to_string(response.status) + " " + HttpResponse::Reason(response.status);
  out += "\r\nContent-Type: " + response.content_type;
  out += "\r\nContent-Length: " + std::to_string(response.body.size());
  if (!keep_alive) {
    out += "\r\nConnection: close";
  } else if (minor_version == 0) {
    out += "\r\nConnection: keep-alive";
  }
  for (const auto& [name, value] : response.headers) out += "\r\n" + name + ": " + value;
  out += "\r\n\r\n";
  if (!head) out += response.body;
  return out;
}

}  // namespace sluice
