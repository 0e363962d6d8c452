// HttpReply: the answer to one request, which a handler may give at once or much later, from
// any thread (a long-polled wait is answered when its condition holds, with no thread
// waiting for it meanwhile).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/http_response.h"

namespace sluice {

namespace http_internal {

// Where replies go: the server loop's queue of answers, woken through an eventfd. Shared
// by the loop and every reply; once the loop has stopped, answers are dropped.
class Inbox {
 public:
  explicit Inbox(int wake_fd) : wake_fd_(wake_fd) {}
  // Queues the answer for connection `conn` and wakes the loop. Any thread.
  void Post(uint64_t conn, HttpResponse response);
  // Everything queued so far. The loop's thread.
  std::vector<std::pair<uint64_t, HttpResponse>> Take();
  // Drops every later Post; the wake fd may be closed after this returns.
  void Close();

 private:
  std::mutex mu_;
  int wake_fd_;
  bool closed_ = false;
  std::vector<std::pair<uint64_t, HttpResponse>> answers_;
};

struct ReplyState {
  ReplyState(std::weak_ptr<Inbox> inbox_in, uint64_t conn_in)
      : inbox(std::move(inbox_in)), conn(conn_in) {}
  ~ReplyState();  // 500 when no copy sent an answer
  void Send(HttpResponse response);

  std::weak_ptr<Inbox> inbox;
  const uint64_t conn;
  std::atomic<bool> sent{false};
  std::atomic<bool> cancelled{false};  // set by the loop
};

}  // namespace http_internal

// Copyable; the copies share one answer. The first Send() wins and later ones do nothing.
// When every copy is gone without a Send(), the client gets 500, so a handler that loses
// its reply never leaves a connection hanging. Thread-safe.
class HttpReply {
 public:
  explicit HttpReply(std::shared_ptr<http_internal::ReplyState> state) : state_(std::move(state)) {}

  void Send(HttpResponse response) const { state_->Send(std::move(response)); }
  // The client closed its connection, or the server is stopping: an answer would go nowhere,
  // so a long wait may give up early. (A client that only shut down its sending side looks
  // the same; it still gets an answer that is sent anyway.)
  bool Cancelled() const { return state_->cancelled.load(std::memory_order_acquire); }
  bool Sent() const { return state_->sent.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<http_internal::ReplyState> state_;
};

}  // namespace sluice
