#include "runtime/dead_letter_file.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/state_store.h"
#include "util/change_json.h"
#include "util/json_writer.h"

namespace sluice {

std::string FileDeadLetters::PathFor(const std::string& pipeline) const {
  return dir_ + "/" + pipeline + ".jsonl";
}

Status FileDeadLetters::Write(const std::string& pipeline, const std::string& sink,
                              const Change& change, const std::string& reason) {
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::string line;
  JsonWriter w(&line);
  w.BeginObject();
  w.Key("time");
  w.String(FormatTimestampUs(now));
  w.Key("pipeline");
  w.String(pipeline);
  w.Key("sink");
  w.String(sink);
  w.Key("reason");
  w.String(reason);
  w.Key("change");
  AppendChangeJson(change, &line);
  line.push_back('}');
  line.push_back('\n');

  std::lock_guard lock(mu_);
  SLUICE_RETURN_IF_ERROR(MakeDirs(dir_));
  std::string path = PathFor(pipeline);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::Unavailable("cannot open dead-letter file " + path + ": " +
                               std::strerror(errno));
  ssize_t n = ::write(fd, line.data(), line.size());
  int rc = (n == static_cast<ssize_t>(line.size())) ? ::fsync(fd) : -1;
  ::close(fd);
  if (rc != 0) return Status::Unavailable("cannot write dead-letter file " + path);
  ++written_;
  spdlog::warn("pipeline {} sink {}: dead-lettered {} at {} to {}: {}", pipeline, sink,
               OpName(change.op), change.position.lsn.ToString(), path, reason);
  return Status::Ok();
}

}  // namespace sluice
