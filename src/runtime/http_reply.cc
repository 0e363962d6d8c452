#include "runtime/http_reply.h"

#include <unistd.h>

#include <cstdint>

namespace sluice::http_internal {

void Inbox::Post(uint64_t conn, HttpResponse response) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  answers_.emplace_back(conn, std::move(response));
  uint64_t one = 1;
  // An eventfd write only fails when its counter would overflow, and then the loop is
  // already due to wake.
  (void)!write(wake_fd_, &one, sizeof one);
}

std::vector<std::pair<uint64_t, HttpResponse>> Inbox::Take() {
  std::lock_guard lock(mu_);
  return std::exchange(answers_, {});
}

void Inbox::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  answers_.clear();
}

ReplyState::~ReplyState() {
  if (!sent.load()) {
    Send(HttpResponse::Text(500, "the handler of this request gave no answer\n"));
  }
}

void ReplyState::Send(HttpResponse response) {
  if (sent.exchange(true)) return;
  if (auto target = inbox.lock()) target->Post(conn, std::move(response));
}

}  // namespace sluice::http_internal
