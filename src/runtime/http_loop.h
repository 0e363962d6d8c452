// HttpLoop: an event-driven HTTP/1.1 server core. One thread accepts, reads, parses and
// writes every connection through epoll, so an idle or slow connection costs a socket and a
// buffer, never a thread; complete requests go to a handler that answers through an
// HttpReply, at once or later. The endpoints themselves are in http_server.h.
//
// Limits (HttpServerLimits): a whole-request deadline from the first byte that progress
// does not restart, an idle timeout, bounded heads and bodies, and a connection limit.
// At the limit a new connection closes the one that has waited longest for its request;
// when every connection has a request being answered, the new one gets a 503 and is closed.
// One request per connection is answered at a time; pipelined requests wait their turn.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "runtime/http_limits.h"
#include "runtime/http_reply.h"
#include "runtime/http_request.h"
#include "runtime/listen_address.h"

namespace sluice {

// Called on the loop's thread for every complete request; it must not block (hand slow
// work to another thread with the reply). HEAD requests come as they are: the loop leaves
// out the body of their answer.
using HttpHandler = std::function<void(HttpRequest request, HttpReply reply)>;

// Owned by the HTTP server. Listen() and Stop() from the owner's thread; the handler runs on
// the loop's thread; replies may be sent from any thread.
class HttpLoop {
 public:
  // `metrics` gets sluice_http_connections_closed_total{reason} and
  // sluice_http_connections_open.
  HttpLoop(HttpServerLimits limits, HttpHandler handler, MetricScope metrics = {});
  ~HttpLoop();  // Stop()
  HttpLoop(const HttpLoop&) = delete;
  HttpLoop& operator=(const HttpLoop&) = delete;

  // Binds the first of `addresses` that can be bound, then serves on the loop's thread.
  // Unavailable when none can (the port is taken, the address is not this machine's).
  Status Listen(const std::vector<SocketAddress>& addresses);
  // Closes every connection (pending replies become Cancelled()) and joins the thread.
  // Idempotent.
  void Stop();
  // The address bound by Listen().
  const SocketAddress& bound() const { return bound_; }

 private:
  using Clock = std::chrono::steady_clock;
  // kLingering: the answer that ends a connection was sent; the client's remaining bytes
  // are read and dropped until it closes, so that closing cannot reset the answer away.
  enum class Phase { kReading, kAnswering, kWriting, kLingering };
  enum class Closing { kNormal, kIdle, kDeadline, kLimit, kBadRequest };
  struct Conn {
    uint64_t id = 0;
    int fd = -1;
    Phase phase = Phase::kReading;
    std::string in;  // bytes received, from the start of the request being read
    HttpRequestParser parser;
    bool started = false;        // the request being read has its first byte
    bool continue_sent = false;  // "100 Continue" for this request
    std::string out;
    size_t out_done = 0;
    bool close_after_write = false;
    bool keep_alive = true;  // of the request being answered
    int minor_version = 1;
    bool head = false;
    bool peer_closed = false;
    uint32_t events = 0;  // registered with epoll
    std::set<std::pair<Clock::time_point, uint64_t>>::iterator deadline;
    bool has_deadline = false;
    std::list<uint64_t>::iterator waiting;  // in waiting_ while kReading
    bool in_waiting = false;
    std::weak_ptr<http_internal::ReplyState> reply;
    explicit Conn(const HttpServerLimits& limits) : parser(limits) {}
  };

  void Run();
  void Accept();
  void AddConnection(int fd);
  void CloseLongestWaiting();
  void OnEvent(Conn& c, uint32_t events);
  void ReadRequest(Conn& c);
  void ParseRequests(Conn& c);
  void Dispatch(Conn& c);
  void DeliverAnswers();
  void StartWrite(Conn& c, std::string bytes, bool close_after);
  void Write(Conn& c);
  void EnterReading(Conn& c);
  void Linger(Conn& c);
  void Discard(Conn& c);
  void PauseAccept();
  void ExpireDeadlines();
  void Close(Conn& c, Closing why);
  void CountClose(Closing why);
  void SetEvents(Conn& c, uint32_t events);
  void SetDeadline(Conn& c, Clock::time_point at);
  void ClearDeadline(Conn& c);
  void LeaveWaiting(Conn& c);
  int WaitMillis() const;

  const HttpServerLimits limits_;
  HttpHandler handler_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  SocketAddress bound_;
  std::shared_ptr<http_internal::Inbox> inbox_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  // The loop thread's own state.
  uint64_t next_id_ = 2;  // 0 and 1 mark the listening socket and the wake fd
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::set<std::pair<Clock::time_point, uint64_t>> deadlines_;
  // Connections waiting for (the rest of) a request, longest waiting first: the ones the
  // limit closes first.
  std::list<uint64_t> waiting_;
  Clock::time_point accept_paused_until_{};
  std::set<Closing> logged_;  // reasons already logged once
  bool logged_out_of_fds_ = false;

  Counter& closed_idle_;
  Counter& closed_deadline_;
  Counter& closed_limit_;
  Counter& closed_bad_request_;
  Gauge& open_;
};

}  // namespace sluice
