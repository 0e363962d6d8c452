#include "core/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sluice {

namespace {
std::string DirOf(const std::string& path);

// "12 KB free of 1 MB", for the message of a full disk.
std::string FreeSpace(const std::string& dir) {
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return "free space unknown";
  auto kb = [](unsigned long long bytes) { return std::to_string(bytes / 1024) + " KB"; };
  return kb(static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize) + " free of " +
         kb(static_cast<unsigned long long>(fs.f_blocks) * fs.f_frsize);
}

Status Errno(const std::string& what, const std::string& path) {
  int err = errno;
  std::string msg = what + " " + path + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) msg += " (" + FreeSpace(DirOf(path)) + ")";
  return Status::Unavailable(msg);
}

Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return Errno("cannot open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot fsync", path);
  return Status::Ok();
}

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return Status::InvalidArgument("empty directory name");
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    std::string part = dir.substr(0, pos);
    if (part.empty()) continue;
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return Errno("cannot create", part);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(dir + " is not a directory");
  }
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, const std::string& content,
                       bool crash_before_rename) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Errno("cannot write", tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return Errno("cannot fsync", tmp);
  }
  ::close(fd);
  if (crash_before_rename) return Status::Ok();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename", tmp);
  return FsyncPath(DirOf(path), O_RDONLY | O_DIRECTORY);
}

Status StateStore::Open() { return MakeDirs(dir_); }

Result<std::optional<std::string>> StateStore::Load(const std::string& name) const {
  std::ifstream in(PathOf(name), std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Errno("cannot read", PathOf(name));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::optional<std::string>(ss.str());
}

Status StateStore::Save(const std::string& name, const std::string& content) {
  return WriteFileAtomic(PathOf(name), content).WithContext("state directory " + dir_);
}

Status StateStore::Remove(const std::string& name) {
  if (::unlink(PathOf(name).c_str()) != 0 && errno != ENOENT)
    return Errno("cannot remove", PathOf(name));
  return Status::Ok();
}

}  // namespace sluice
