// HttpResponse: what a handler answers, and its HTTP/1.1 wire form.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sluice {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // besides the framing ones
  std::string body;

  static HttpResponse Text(int status, std::string body);
  // The standard reason phrase of `status` ("Not Found"); "Unknown" for others.
  static const char* Reason(int status);
};

// The bytes of `response`: status line, Content-Type, Content-Length, Connection (close, or
// keep-alive for an HTTP/1.0 client that asked for it), the headers, then the body unless
// `head` (an answer to HEAD carries the GET's length and no body).
std::string SerializeResponse(const HttpResponse& response, int minor_version, bool keep_alive,
                              bool head);

}  // namespace sluice
