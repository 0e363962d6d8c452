#include "runtime/http_loop.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sluice {

namespace {

constexpr uint64_t kListenId = 0;
constexpr uint64_t kWakeId = 1;
constexpr int kAcceptBatch = 64;  // connections accepted per wake-up, so reads are not starved
constexpr size_t kReadChunk = 16 << 10;
// How long a closing connection's remaining input is read and dropped.
constexpr std::chrono::milliseconds kLingerMax(2000);
// How long accepting pauses when the process is out of file descriptors.
constexpr std::chrono::milliseconds kAcceptPause(100);
constexpr uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP;

constexpr char kBusy[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 22\r\nConnection: close\r\n\r\ntoo many connections\r\n";
constexpr char kTimedOut[] =
    "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 37\r\nConnection: close\r\n\r\nthe request did not arrive in time\r\n\r\n";
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

// A short message on a socket about to be closed, or one that needs no more: whatever does
// not fit in the socket's buffer is dropped.
void SendBestEffort(int fd, const char* text, size_t size) {
  (void)!send(fd, text, size, MSG_NOSIGNAL | MSG_DONTWAIT);
}

std::string Errno() { return std::strerror(errno); }

Counter& ClosedCounter(const MetricScope& metrics, const char* reason) {
  return metrics.GetCounter("sluice_http_connections_closed_total",
                            "HTTP connections closed by sluice, by reason: idle (idle_timeout), "
                            "deadline (request_timeout), limit (max_connections), bad_request",
                            {{"reason", reason}});
}

}  // namespace

HttpLoop::HttpLoop(HttpServerLimits limits, HttpHandler handler, MetricScope metrics)
    : limits_(limits),
      handler_(std::move(handler)),
      closed_idle_(ClosedCounter(metrics, "idle")),
      closed_deadline_(ClosedCounter(metrics, "deadline")),
      closed_limit_(ClosedCounter(metrics, "limit")),
      closed_bad_request_(ClosedCounter(metrics, "bad_request")),
      open_(metrics.GetGauge("sluice_http_connections_open", "HTTP connections open")) {}

HttpLoop::~HttpLoop() { Stop(); }

Status HttpLoop::Listen(const std::vector<SocketAddress>& addresses) {
  std::string errors;
  for (const SocketAddress& a : addresses) {
    int fd = socket(a.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
        bind(fd, a.get(), a.length) == 0 && listen(fd, SOMAXCONN) == 0) {
      listen_fd_ = fd;
      break;
    }
    errors += (errors.empty() ? "" : "; ") + a.ToString() + ": " + Errno();
    if (fd >= 0) close(fd);
  }
  if (listen_fd_ < 0) return Status::Unavailable("cannot listen on " + errors);
  Result<SocketAddress> bound = BoundAddress(listen_fd_);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event listen_event{EPOLLIN, {.u64 = kListenId}};
  epoll_event wake_event{EPOLLIN, {.u64 = kWakeId}};
  if (!bound.ok() || epoll_fd_ < 0 || wake_fd_ < 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen_event) != 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_event) != 0) {
    std::string why = bound.ok() ? Errno() : bound.status().message();
    for (int* fd : {&listen_fd_, &epoll_fd_, &wake_fd_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    return Status::Internal("http: cannot set up the server loop: " + why);
  }
  bound_ = *bound;
  inbox_ = std::make_shared<http_internal::Inbox>(wake_fd_);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void HttpLoop::Stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
  inbox_->Close();  // later replies are dropped; the wake fd may go
  for (int* fd : {&listen_fd_, &epoll_fd_, &wake_fd_}) {
    close(*fd);
    *fd = -1;
  }
}

void HttpLoop::Run() {
  epoll_event events[64];
  while (!stopping_) {
    int n = epoll_wait(epoll_fd_, events, 64, WaitMillis());
    if (n < 0 && errno != EINTR) {
      spdlog::error("http: epoll_wait failed ({}); the endpoints stop answering", Errno());
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == kListenId) {
        Accept();
      } else if (id == kWakeId) {
        uint64_t count = 0;
        (void)!read(wake_fd_, &count, sizeof count);  // the answers are taken below
      } else if (auto it = conns_.find(id); it != conns_.end()) {
        OnEvent(*it->second, events[i].events);
      }
    }
    DeliverAnswers();
    ExpireDeadlines();
    if (accept_paused_until_ != Clock::time_point() && Clock::now() >= accept_paused_until_) {
      accept_paused_until_ = {};
      epoll_event ev{EPOLLIN, {.u64 = kListenId}};
      (void)epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
    }
  }
  while (!conns_.empty()) Close(*conns_.begin()->second, Closing::kNormal);
}

int HttpLoop::WaitMillis() const {
  Clock::time_point next = Clock::time_point::max();
  if (!deadlines_.empty()) next = deadlines_.begin()->first;
  if (accept_paused_until_ != Clock::time_point()) next = std::min(next, accept_paused_until_);
  if (next == Clock::time_point::max()) return -1;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(wait, 0, 60000));
}

void HttpLoop::Accept() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      AddConnection(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors: free one by the limit's rule, else pause, since the listening
      // socket stays readable and would spin the loop.
      if (!logged_out_of_fds_) {
        logged_out_of_fds_ = true;
        spdlog::warn("http: cannot accept a connection ({}); closing waiting ones (logged once)",
                     Errno());
      }
      if (waiting_.empty()) return PauseAccept();
      CloseLongestWaiting();
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    // Network errors of the connection being accepted (ENETDOWN, EPROTO, ...): skip it.
    spdlog::debug("http: accept: {}", Errno());
  }
}

void HttpLoop::PauseAccept() {
  accept_paused_until_ = Clock::now() + kAcceptPause;
  epoll_event ev{0, {.u64 = kListenId}};
  (void)epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
}

void HttpLoop::AddConnection(int fd) {
  if (conns_.size() >= limits_.max_connections) {
    if (waiting_.empty()) {
      SendBestEffort(fd, kBusy, sizeof kBusy - 1);
      close(fd);
      CountClose(Closing::kLimit);
      return;
    }
    CloseLongestWaiting();
  }
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto owned = std::make_unique<Conn>(limits_);
  owned->id = next_id_++;
  owned->fd = fd;
  epoll_event ev{kReadEvents, {.u64 = owned->id}};
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    spdlog::warn("http: epoll_ctl: {}", Errno());
    close(fd);
    return;
  }
  owned->events = kReadEvents;
  Conn& c = *owned;
  conns_.emplace(c.id, std::move(owned));
  open_.Set(static_cast<double>(conns_.size()));
  EnterReading(c);
}

void HttpLoop::CloseLongestWaiting() {
  Conn& c = *conns_.at(waiting_.front());
  // A lingering connection has had its answer: closing it costs the client nothing.
  Close(c, c.phase == Phase::kLingering ? Closing::kNormal : Closing::kLimit);
}

void HttpLoop::OnEvent(Conn& c, uint32_t events) {
  if (events & EPOLLERR) return Close(c, Closing::kNormal);
  switch (c.phase) {
    case Phase::kReading:
      return ReadRequest(c);
    case Phase::kAnswering:
      // The client went away (or shut down its side) while its answer is prepared.
      c.peer_closed = true;
      if (auto reply = c.reply.lock()) reply->cancelled = true;
      if (events & EPOLLHUP) return Close(c, Closing::kNormal);
      return SetEvents(c, 0);
    case Phase::kWriting:
      return Write(c);
    case Phase::kLingering:
      return Discard(c);
  }
}

void HttpLoop::EnterReading(Conn& c) {
  c.phase = Phase::kReading;
  c.parser.Reset();
  c.started = false;
  c.continue_sent = false;
  waiting_.push_back(c.id);
  c.waiting = std::prev(waiting_.end());
  c.in_waiting = true;
  SetEvents(c, kReadEvents);
  SetDeadline(c, Clock::now() + limits_.idle_timeout);
  if (!c.in.empty()) ParseRequests(c);  // a pipelined request
}

void HttpLoop::ReadRequest(Conn& c) {
  char buffer[kReadChunk];
  ssize_t n = recv(c.fd, buffer, sizeof buffer, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  // End of input or an error: a request not yet complete can no longer be answered.
  if (n <= 0) return Close(c, Closing::kNormal);
  c.in.append(buffer, static_cast<size_t>(n));
  ParseRequests(c);
}

void HttpLoop::ParseRequests(Conn& c) {
  switch (c.parser.Parse(c.in)) {
    case HttpRequestParser::State::kNeedMore:
      if (c.parser.started() && !c.started) {
        // The deadline runs from the first byte and is never moved by later ones.
        c.started = true;
        SetDeadline(c, Clock::now() + limits_.request_timeout);
      }
      if (c.parser.expects_continue() && !c.continue_sent) {
        c.continue_sent = true;
        SendBestEffort(c.fd, kContinue, sizeof kContinue - 1);
      }
      return;
    case HttpRequestParser::State::kError: {
      CountClose(Closing::kBadRequest);
      LeaveWaiting(c);
      HttpResponse r = HttpResponse::Text(c.parser.error_status(), c.parser.error_message() + "\n");
      return StartWrite(c, SerializeResponse(r, 1, false, false), true);
    }
    case HttpRequestParser::State::kDone:
      return Dispatch(c);
  }
}

void HttpLoop::Dispatch(Conn& c) {
  c.in.erase(0, c.parser.consumed());
  HttpRequest request = c.parser.TakeRequest();
  LeaveWaiting(c);
  ClearDeadline(c);
  c.phase = Phase::kAnswering;
  c.keep_alive = request.keep_alive;
  c.minor_version = request.minor_version;
  c.head = request.method == "HEAD";
  // Only a hang-up is watched meanwhile; pipelined requests wait in the socket.
  SetEvents(c, EPOLLRDHUP);
  auto state = std::make_shared<http_internal::ReplyState>(inbox_, c.id);
  c.reply = state;
  try {
    handler_(std::move(request), HttpReply(std::move(state)));
  } catch (const std::exception& e) {
    // The reply went with the handler's stack: the client gets 500.
    spdlog::error("http: the handler of a request failed: {}", e.what());
  }
}

void HttpLoop::DeliverAnswers() {
  for (auto& [id, response] : inbox_->Take()) {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second->phase != Phase::kAnswering) continue;
    Conn& c = *it->second;
    bool keep = c.keep_alive && !c.peer_closed && !stopping_;
    StartWrite(c, SerializeResponse(response, c.minor_version, keep, c.head), !keep);
  }
}

void HttpLoop::StartWrite(Conn& c, std::string bytes, bool close_after) {
  c.phase = Phase::kWriting;
  c.out = std::move(bytes);
  c.out_done = 0;
  c.close_after_write = close_after;
  SetDeadline(c, Clock::now() + limits_.request_timeout);
  Write(c);
}

void HttpLoop::Write(Conn& c) {
  while (c.out_done < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_done, c.out.size() - c.out_done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return SetEvents(c, EPOLLOUT);
    if (n < 0) return Close(c, Closing::kNormal);
    c.out_done += static_cast<size_t>(n);
  }
  c.out.clear();
  c.out_done = 0;
  if (c.close_after_write) return Linger(c);
  EnterReading(c);
}

void HttpLoop::Linger(Conn& c) {
  c.phase = Phase::kLingering;
  (void)shutdown(c.fd, SHUT_WR);
  // First in line for the limit: nothing more will be answered here.
  waiting_.push_front(c.id);
  c.waiting = waiting_.begin();
  c.in_waiting = true;
  SetEvents(c, kReadEvents);
  SetDeadline(c, Clock::now() + std::min(limits_.request_timeout, kLingerMax));
}

void HttpLoop::Discard(Conn& c) {
  char buffer[kReadChunk];
  ssize_t n = recv(c.fd, buffer, sizeof buffer, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) Close(c, Closing::kNormal);
}

void HttpLoop::ExpireDeadlines() {
  const Clock::time_point now = Clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    Conn& c = *conns_.at(deadlines_.begin()->second);
    if (c.phase == Phase::kReading && c.started) {
      SendBestEffort(c.fd, kTimedOut, sizeof kTimedOut - 1);
      Close(c, Closing::kDeadline);
    } else if (c.phase == Phase::kReading) {
      Close(c, Closing::kIdle);
    } else if (c.phase == Phase::kWriting) {
      Close(c, Closing::kDeadline);
    } else {
      Close(c, Closing::kNormal);
    }
  }
}

void HttpLoop::Close(Conn& c, Closing why) {
  CountClose(why);
  ClearDeadline(c);
  LeaveWaiting(c);
  if (auto reply = c.reply.lock()) reply->cancelled = true;
  close(c.fd);  // also leaves the epoll set
  conns_.erase(c.id);
  open_.Set(static_cast<double>(conns_.size()));
}

void HttpLoop::CountClose(Closing why) {
  std::string log;
  switch (why) {
    case Closing::kNormal:
      return;
    case Closing::kIdle:
      return closed_idle_.Add();
    case Closing::kBadRequest:
      return closed_bad_request_.Add();
    case Closing::kDeadline:
      closed_deadline_.Add();
      log =
          "closed a connection whose request did not arrive whole, or whose answer was not "
          "taken, within http.request_timeout (" +
          std::to_string(limits_.request_timeout.count()) + " ms)";
      break;
    case Closing::kLimit:
      closed_limit_.Add();
      log = "http.max_connections (" + std::to_string(limits_.max_connections) +
            ") are open: closing the connection that waited longest for its request, or "
            "refusing the new one when every connection is being answered";
      break;
  }
  if (logged_.insert(why).second) {
    spdlog::warn("http: {}; logged once, counted in sluice_http_connections_closed_total", log);
  }
}

void HttpLoop::SetEvents(Conn& c, uint32_t events) {
  if (c.events == events) return;
  epoll_event ev{events, {.u64 = c.id}};
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) == 0) c.events = events;
}

void HttpLoop::SetDeadline(Conn& c, Clock::time_point at) {
  ClearDeadline(c);
  c.deadline = deadlines_.emplace(at, c.id).first;
  c.has_deadline = true;
}

void HttpLoop::ClearDeadline(Conn& c) {
  if (!c.has_deadline) return;
  deadlines_.erase(c.deadline);
  c.has_deadline = false;
}

void HttpLoop::LeaveWaiting(Conn& c) {
  if (!c.in_waiting) return;
  waiting_.erase(c.waiting);
  c.in_waiting = false;
}

}  // namespace sluice
