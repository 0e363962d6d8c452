#include "sinks/elasticsearch/es_request_thread.h"

#include <utility>

namespace sluice::es {

EsRequestThread::EsRequestThread(EsClientOptions options) : client_(std::move(options)) {}

EsRequestThread::~EsRequestThread() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void EsRequestThread::Start(std::string path, std::string body, std::string content_type) {
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  {
    std::lock_guard lock(mu_);
    path_ = std::move(path);
    body_ = std::move(body);
    content_type_ = std::move(content_type);
    answer_.reset();
  }
  in_flight_ = true;
  cv_.notify_all();
}

Result<HttpResponse> EsRequestThread::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return answer_.has_value(); });
  in_flight_ = false;
  Result<HttpResponse> answer = std::move(*answer_);
  answer_.reset();
  return answer;
}

void EsRequestThread::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || path_.has_value(); });
    if (!path_) return;  // stopping, and nothing was asked for
    std::string path = std::move(*path_);
    std::string body = std::move(body_);
    std::string content_type = std::move(content_type_);
    path_.reset();
    lock.unlock();
    Result<HttpResponse> answer = client_.Request("POST", path, body, content_type);
    lock.lock();
    answer_ = std::move(answer);
    cv_.notify_all();
  }
}

}  // namespace sluice::es
