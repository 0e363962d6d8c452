#include "sinks/stdout/stdout_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/change_json.h"

namespace sluice {

namespace {
// A reader that closed its end of the pipe (`sluice run | head -1`), or an output that was
// closed before sluice started, will never take another line: waiting for it would hold the
// pipeline and its shutdown forever. Anything else (a full disk, an I/O error) may pass.
Status Errno(const std::string& what) {
  int err = errno;
  if (err == EPIPE || err == EBADF) {
    return Status::FailedPrecondition(what + ": " + std::strerror(err) +
                                      " (its reader is gone; nothing past the lines written is "
                                      "confirmed, so a restart sends the rest)");
  }
  return Status::Unavailable(what + ": " + std::strerror(err));
}
}  // namespace

StdoutSink::~StdoutSink() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

Status StdoutSink::Open() {
  if (fd_ >= 0) return Status::Ok();
  if (options_.path.empty()) {
    fd_ = STDOUT_FILENO;
    return Status::Ok();
  }
  fd_ = ::open(options_.path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return Errno("cannot open " + options_.path);
  owns_fd_ = true;
  // A crash in the middle of a write can leave a torn last line; end it so that the
  // next line starts clean (readers skip the torn one: it was never reported durable).
  off_t size = ::lseek(fd_, 0, SEEK_END);
  char last = '\n';
  if (size > 0 && ::pread(fd_, &last, 1, size - 1) == 1 && last != '\n') {
    if (::write(fd_, "\n", 1) != 1) return Errno("cannot write " + options_.path);
  }
  return Status::Ok();
}

Status StdoutSink::Check() {
  if (options_.path.empty()) return Status::Ok();
  if (::access(options_.path.c_str(), W_OK) == 0) return Status::Ok();
  if (errno != ENOENT) return Errno("cannot write " + options_.path);
  std::string dir = options_.path.substr(0, options_.path.rfind('/') + 1);
  if (dir.empty()) dir = ".";
  if (::access(dir.c_str(), W_OK) != 0) return Errno("cannot create files in " + dir);
  return Status::Ok();
}

Status StdoutSink::Write(const Batch& batch) {
  for (const Change& c : batch.changes) {
    AppendChangeJson(c, &buffer_);
    buffer_.push_back('\n');
  }
  return Status::Ok();
}

Status StdoutSink::Flush() {
  // Partial progress survives a retry: what was written is cut from the buffer.
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      buffer_.erase(0, done);
      return Errno("cannot write " + (options_.path.empty() ? "stdout" : options_.path));
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
  if (owns_fd_ && options_.fsync && ::fsync(fd_) != 0)
    return Errno("cannot fsync " + options_.path);
  return Status::Ok();
}

void RegisterStdoutSink(Registry& registry) {
  SinkPlugin p;
  p.type = "stdout";
  p.description = "Writes each change as one JSON line to standard output or a file";
  p.options = {
      {"path", OptionType::kString, "", false, "File to append to; standard output when unset"},
      {"fsync", OptionType::kBool, "true", false,
       "fsync the file before reporting a batch durable"},
      {"buffer", OptionType::kBytes, "1MB", false, "Bytes buffered before a write"},
  };
  p.create = [](const SinkContext& ctx) -> Result<std::unique_ptr<Sink>> {
    StdoutSinkOptions o;
    o.path = ctx.options.String("path");
    o.fsync = ctx.options.Bool("fsync");
    o.buffer_bytes = ctx.options.Bytes("buffer");
    return std::unique_ptr<Sink>(std::make_unique<StdoutSink>(std::move(o)));
  };
  registry.AddSink(std::move(p));
}

}  // namespace sluice
