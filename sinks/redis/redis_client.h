// RedisClient: one blocking hiredis connection (RAII), with the URL parsing and the one
// place where hiredis errors and Redis error replies become a Status.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sinks/redis/redis_builder.h"

struct redisContext;
struct redisReply;

namespace sluice::redis {

// redis://[[user]:password@]host[:port][/db]; user and password may be %-encoded.
struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;  // empty: the default user (AUTH password)
  std::string password;
  static Result<RedisUrl> Parse(std::string_view url);
  // "redis://host:port/db", never the password.
  std::string ToString() const;
};

struct ReplyDeleter {
  void operator()(redisReply* r) const;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// What an error reply means for the sink, decided in one place:
//   OOM, LOADING, BUSY, MASTERDOWN, READONLY, TRYAGAIN, CLUSTERDOWN -> Unavailable (retry);
//   WRONGPASS, NOAUTH, NOPERM, bad DB index, AUTH without a configured password
//     -> InvalidArgument (fix the config; retrying will not help);
//   NOSCRIPT -> NotFound (load the script again); anything else -> Internal.
Status ErrorReplyToStatus(std::string_view error, const std::string& where);

// Owned by one sink, used by its thread only. Reconnects lazily: after an I/O error the
// connection is dropped and the next Connect() starts over.
class RedisClient {
 public:
  RedisClient(RedisUrl url, std::chrono::milliseconds connect_timeout,
              std::chrono::milliseconds command_timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Connects, authenticates and selects the db; Ok at once when already connected.
  Status Connect();
  bool connected() const { return ctx_ != nullptr; }
  void Close();

  // Runs one command; error replies come back as a Status (see ErrorReplyToStatus).
  Result<ReplyPtr> Command(const std::vector<std::string_view>& args);
  // Sends every command in one write, then reads every reply, in order: one round trip.
  // Error replies are returned as replies; only transport failures make a non-OK Status.
  Status Pipeline(const std::vector<const ArgList*>& commands, std::vector<ReplyPtr>* replies);
  // Sends one command at once without waiting for its reply, so Redis can run it while the
  // caller prepares the next; Receive() takes the replies in order. A transport failure
  // closes the connection, dropping every reply still owed.
  Status Send(const ArgList& command);
  Result<ReplyPtr> Receive();

  const RedisUrl& url() const { return url_; }

 private:
  Status IoError(const char* what);
  // Queues `command` in the context's output buffer.
  Status Append(const ArgList& command);

  RedisUrl url_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds command_timeout_;
  redisContext* ctx_ = nullptr;
  std::string resp_;  // the command being queued, kept for its capacity
};

}  // namespace sluice::redis
