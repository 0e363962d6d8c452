#include "runtime/http_request.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sluice {

namespace {

bool SameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 9110 token characters (methods, header names).
bool IsToken(std::string_view s) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kSpecials.find(c) != kSpecials.npos;
  });
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `s`; nullopt on a malformed escape or an encoded NUL.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] != '%') {
      out += s[i];
    } else {
      int hi = i + 2 < s.size() ? HexDigit(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexDigit(s[i + 2]) : -1;
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the comma-separated header value `list` holds `token` (case-insensitive).
bool HasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (SameText(Trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (SameText(k, name)) return v;
  }
  return "";
}

std::optional<std::string> HttpRequest::Param(std::string_view name) const {
  for (auto& [k, v] : ParseQuery(query)) {
    if (k == name) return std::move(v);
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  auto decode = [](std::string_view s) { return PercentDecode(s, true).value_or(std::string(s)); };
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    if (!part.empty()) {
      size_t eq = part.find('=');
      out.emplace_back(decode(part.substr(0, eq)),
                       eq == std::string_view::npos ? "" : decode(part.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

void HttpRequestParser::Reset() { *this = HttpRequestParser(limits_); }

HttpRequestParser::State HttpRequestParser::Fail(int status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
  return State::kError;
}

HttpRequestParser::State HttpRequestParser::Parse(std::string_view buffer) {
  if (error_status_ != 0) return State::kError;
  if (head_bytes_ == 0) {
    // Empty lines before a request line are skipped (RFC 9112 2.2).
    while (skipped_ < buffer.size() &&
           (buffer[skipped_] == '\n' || (buffer[skipped_] == '\r' && skipped_ + 1 < buffer.size() &&
                                         buffer[skipped_ + 1] == '\n'))) {
      skipped_ += buffer[skipped_] == '\n' ? 1 : 2;
      if (skipped_ > limits_.max_header_bytes) return Fail(400, "too many empty lines");
    }
    // A lone CR may still turn out to be an empty line.
    started_ = buffer.size() > skipped_ + (buffer.size() > skipped_ && buffer.back() == '\r');
    scanned_ = std::max(scanned_, skipped_);
    line_start_ = std::max(line_start_, skipped_);
    // The head ends at the first empty line. Lines end in LF or CRLF.
    for (; scanned_ < buffer.size() && head_bytes_ == 0; ++scanned_) {
      if (buffer[scanned_] != '\n') continue;
      size_t length = scanned_ - line_start_;
      bool empty = length == 0 || (length == 1 && buffer[line_start_] == '\r');
      if (line_start_ == skipped_) {
        State s = ParseRequestLine(buffer.substr(line_start_, length));
        if (s == State::kError) return s;
      } else if (empty) {
        head_bytes_ = scanned_ + 1;
      }
      line_start_ = scanned_ + 1;
    }
    if (head_bytes_ == 0) {
      if (buffer.size() - skipped_ > limits_.max_header_bytes) {
        return request_.method.empty() ? Fail(414, "request line too long")
                                       : Fail(431, "request headers too large");
      }
      return State::kNeedMore;
    }
    if (head_bytes_ - skipped_ > limits_.max_header_bytes) {
      return Fail(431, "request headers too large");
    }
    State s = ParseHead(buffer.substr(skipped_, head_bytes_ - skipped_));
    if (s == State::kError) return s;
  }
  if (buffer.size() < head_bytes_ + body_bytes_) return State::kNeedMore;
  request_.body.assign(buffer.substr(head_bytes_, body_bytes_));
  expects_continue_ = false;
  consumed_ = head_bytes_ + body_bytes_;
  return State::kDone;
}

HttpRequestParser::State HttpRequestParser::ParseHead(std::string_view head) {
  // The request line was parsed as soon as it ended; here come the header lines.
  size_t first_end = head.find('\n');
  std::string_view rest = head.substr(first_end + 1);
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    rest.remove_prefix(end + 1);
    if (line.empty()) break;  // the final empty line
    State s = ParseHeaderLine(line);
    if (s == State::kError) return s;
  }
  return CheckFraming();
}

HttpRequestParser::State HttpRequestParser::ParseRequestLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == line.npos ? line.npos : line.find(' ', sp1 + 1);
  if (sp2 == line.npos || line.find(' ', sp2 + 1) != line.npos) {
    return Fail(400, "malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return Fail(400, "malformed method");
  if (target.empty() || target.front() != '/') return Fail(400, "request target must be a path");
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Fail(400, "control character in the request target");
    }
  }
  if (version == "HTTP/1.1" || version == "HTTP/1.0") {
    request_.minor_version = version.back() - '0';
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
             std::isdigit(static_cast<unsigned char>(version[5])) && version[6] == '.' &&
             std::isdigit(static_cast<unsigned char>(version[7]))) {
    return Fail(505, "only HTTP/1.0 and HTTP/1.1 are served");
  } else {
    return Fail(400, "malformed HTTP version");
  }
  size_t q = target.find('?');
  std::optional<std::string> path = PercentDecode(target.substr(0, q), false);
  if (!path) return Fail(400, "malformed percent-escape in the path");
  request_.method = std::string(method);
  request_.target = std::string(target);
  request_.path = std::move(*path);
  request_.query = q == target.npos ? "" : std::string(target.substr(q + 1));
  return State::kNeedMore;
}

HttpRequestParser::State HttpRequestParser::ParseHeaderLine(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    return Fail(400, "folded header lines are not accepted");
  }
  size_t colon = line.find(':');
  if (colon == line.npos || !IsToken(line.substr(0, colon))) {
    return Fail(400, "malformed header line");
  }
  std::string_view value = Trim(line.substr(colon + 1));
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return Fail(400, "control character in a header");
  }
  request_.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  return State::kNeedMore;
}

// Decides where the body ends and whether the connection stays open.
HttpRequestParser::State HttpRequestParser::CheckFraming() {
  std::optional<size_t> length;
  bool close = false;
  bool keep_alive = false;
  for (const auto& [name, value] : request_.headers) {
    if (SameText(name, "Transfer-Encoding")) {
      return Fail(501, "Transfer-Encoding is not supported; send Content-Length");
    }
    if (SameText(name, "Content-Length")) {
      size_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size() ||
          (length && *length != n)) {
        return Fail(400, "malformed Content-Length");
      }
      length = n;
    }
    if (SameText(name, "Connection")) {
      close = close || HasToken(value, "close");
      keep_alive = keep_alive || HasToken(value, "keep-alive");
    }
    if (SameText(name, "Expect") && SameText(value, "100-continue")) expects_continue_ = true;
  }
  if (length && *length > limits_.max_body_bytes) return Fail(413, "request body too large");
  body_bytes_ = length.value_or(0);
  request_.keep_alive = !close && (request_.minor_version == 1 || keep_alive);
  expects_continue_ = expects_continue_ && request_.minor_version == 1 && body_bytes_ > 0;
  return State::kNeedMore;
}

}  // namespace sluice
