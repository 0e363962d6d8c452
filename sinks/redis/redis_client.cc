#include "sinks/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>

namespace sluice::redis {

namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int v = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16).ptr == s.data() + i + 3) {
      out.push_back(static_cast<char>(v));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Result<RedisUrl> RedisUrl::Parse(std::string_view url) {
  RedisUrl u;
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("url: " + why +
                                   " (expected redis://[user:password@]host:port/db)");
  };
  if (StartsWith(url, "rediss://")) return bad("TLS (rediss://) is not supported");
  if (!StartsWith(url, "redis://")) return bad("must start with redis://");
  std::string_view rest = url.substr(8);
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = info.find(':');
    if (colon == std::string_view::npos) {
      u.password = PercentDecode(info);  // redis://secret@host: a password alone
    } else {
      u.user = PercentDecode(info.substr(0, colon));
      u.password = PercentDecode(info.substr(colon + 1));
    }
  }
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto r = std::from_chars(db.data(), db.data() + db.size(), u.db);
      if (r.ec != std::errc() || r.ptr != db.data() + db.size() || u.db < 0) {
        return bad("database \"" + std::string(db) + "\" is not a number");
      }
    }
  }
  size_t colon = hostport.rfind(':');
  size_t bracket = hostport.rfind(']');  // [::1]:6379
  if (bracket != std::string_view::npos && colon != std::string_view::npos && colon < bracket) {
    colon = std::string_view::npos;
  }
  std::string_view host = hostport.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view port = hostport.substr(colon + 1);
    auto r = std::from_chars(port.data(), port.data() + port.size(), u.port);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size() || u.port <= 0 ||
        u.port > 65535) {
      return bad("port \"" + std::string(port) + "\" is not a port number");
    }
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (!host.empty()) u.host = std::string(host);
  return u;
}

std::string RedisUrl::ToString() const {
  return "redis://" + host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

void ReplyDeleter::operator()(redisReply* r) const { freeReplyObject(r); }

Status ErrorReplyToStatus(std::string_view error, const std::string& where) {
  std::string msg = where + ": " + std::string(error);
  auto is = [&](std::string_view code) { return StartsWith(error, code); };
  if (is("NOSCRIPT")) return Status::NotFound(msg);
  if (is("OOM")) {
    return Status::Unavailable(where +
                               ": Redis is out of memory (maxmemory reached; raise it, "
                               "or pick an eviction policy): " +
                               std::string(error));
  }
  if (is("LOADING") || is("BUSY") || is("MASTERDOWN") || is("READONLY") || is("TRYAGAIN") ||
      is("CLUSTERDOWN")) {
    return Status::Unavailable(msg);
  }
  if (is("WRONGPASS") || is("NOAUTH") || is("NOPERM") || is("ERR invalid password") ||
      is("ERR AUTH") || is("ERR DB index") || is("ERR invalid DB index") ||
      is("ERR Client sent AUTH")) {
    return Status::InvalidArgument(msg);
  }
  return Status::Internal(msg);
}

RedisClient::RedisClient(RedisUrl url, std::chrono::milliseconds connect_timeout,
                         std::chrono::milliseconds command_timeout)
    : url_(std::move(url)), connect_timeout_(connect_timeout), command_timeout_(command_timeout) {}

RedisClient::~RedisClient() { Close(); }

void RedisClient::Close() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

Status RedisClient::IoError(const char* what) {
  std::string msg = std::string(what) + " " + url_.ToString() + ": " +
                    (ctx_ && ctx_->errstr[0] ? ctx_->errstr : "connection lost");
  Close();
  return Status::Unavailable(msg);
}

Status RedisClient::Connect() {
  if (ctx_) return Status::Ok();
  ctx_ = redisConnectWithTimeout(url_.host.c_str(), url_.port, ToTimeval(connect_timeout_));
  if (!ctx_) return Status::Unavailable("cannot connect to Redis at " + url_.ToString());
  if (ctx_->err) return IoError("cannot connect to Redis at");
  if (redisSetTimeout(ctx_, ToTimeval(command_timeout_)) != REDIS_OK) {
    return IoError("cannot set timeouts on the connection to");
  }
  if (!url_.password.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!url_.user.empty()) auth.push_back(url_.user);
    auth.push_back(url_.password);
    auto r = Command(auth);
    if (!r.ok()) {
      Close();
      Status s = r.status();
      if (s.code() == StatusCode::kUnavailable) return s;
      return Status::InvalidArgument("Redis at " + url_.ToString() + " refused the credentials" +
                                     (url_.user.empty() ? "" : " of user " + url_.user) + ": " +
                                     s.message());
    }
  }
  if (url_.db != 0) {
    std::string db = std::to_string(url_.db);
    auto r = Command({"SELECT", db});
    if (!r.ok()) {
      Close();
      Status s = r.status();
      if (s.code() == StatusCode::kUnavailable) return s;
      return Status::InvalidArgument("Redis at " + url_.ToString() + " cannot select database " +
                                     db + ": " + s.message());
    }
  }
  return Status::Ok();
}

Result<ReplyPtr> RedisClient::Command(const std::vector<std::string_view>& args) {
  if (!ctx_) return Status::Unavailable("not connected to Redis at " + url_.ToString());
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* raw = redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (!raw) return IoError("lost the connection to");
  ReplyPtr reply(static_cast<redisReply*>(raw));
  if (reply->type == REDIS_REPLY_ERROR) {
    return ErrorReplyToStatus(std::string_view(reply->str, reply->len),
                              "Redis " + url_.ToString() + " " + std::string(args[0]));
  }
  return reply;
}

// RESP written here in one pass over the arguments (hiredis' own formatting builds each
// length with a printf-like call, which cost more than the sink's JSON for a batch).
Status RedisClient::Append(const ArgList& command) {
  std::string& out = resp_;
  out.clear();
  out.reserve(command.bytes() + 16 * (command.size() + 1));
  char num[24];
  auto header = [&](char kind, size_t n) {
    out.push_back(kind);
    auto [end, ec] = std::to_chars(num, num + sizeof(num), n);
    out.append(num, static_cast<size_t>(end - num));
    out.append("\r\n", 2);
  };
  header('*', command.size());
  for (size_t i = 0; i < command.size(); ++i) {
    std::string_view a = command.at(i);
    header('$', a.size());
    out.append(a);
    out.append("\r\n", 2);
  }
  if (redisAppendFormattedCommand(ctx_, out.data(), out.size()) != REDIS_OK) {
    return IoError("cannot send to");
  }
  return Status::Ok();
}

Status RedisClient::Send(const ArgList& command) {
  if (!ctx_) return Status::Unavailable("not connected to Redis at " + url_.ToString());
  SLUICE_RETURN_IF_ERROR(Append(command));
  for (int done = 0; !done;) {
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) return IoError("cannot send to");
  }
  return Status::Ok();
}

Result<ReplyPtr> RedisClient::Receive() {
  if (!ctx_) return Status::Unavailable("not connected to Redis at " + url_.ToString());
  void* raw = nullptr;
  if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) return IoError("lost the connection to");
  return ReplyPtr(static_cast<redisReply*>(raw));
}

Status RedisClient::Pipeline(const std::vector<const ArgList*>& commands,
                             std::vector<ReplyPtr>* replies) {
  replies->clear();
  if (!ctx_) return Status::Unavailable("not connected to Redis at " + url_.ToString());
  for (const ArgList* cmd : commands) SLUICE_RETURN_IF_ERROR(Append(*cmd));
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) return IoError("lost the connection to");
    replies->emplace_back(static_cast<redisReply*>(raw));
  }
  return Status::Ok();
}

}  // namespace sluice::redis
