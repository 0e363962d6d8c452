#include "support/private_tmpfs.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "support/test_env.h"

namespace sluice::test {

namespace {
constexpr const char* kFiller = "/.filler";
}

PrivateTmpfs::PrivateTmpfs(const std::string& dir, const std::string& size) : dir_(dir) {
  REQUIRE(!dir.empty());
  REQUIRE(dir.front() == '/');
  std::filesystem::create_directories(dir);
  std::string ready = dir + ".ready";
  std::remove(ready.c_str());
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    // unshare execs the shell in the new namespaces (no fork), the shell execs sleep: the
    // holder keeps this pid, which nsenter and /proc/<pid>/root name.
    std::string script =
        "mount -t tmpfs -o size=" + size + " tmpfs \"$0\" && : > \"$0.ready\" && exec sleep 100000";
    execlp("unshare", "unshare", "-rm", "sh", "-c", script.c_str(), dir.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  bool up = WaitFor([&] { return std::filesystem::exists(ready); }, std::chrono::seconds(10));
  if (!up) {
    FAIL(
        "cannot mount a private tmpfs with `unshare -rm` (does this machine allow "
        "unprivileged user namespaces? kernel.unprivileged_userns_clone)");
  }
}

PrivateTmpfs::~PrivateTmpfs() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  std::remove((dir_ + ".ready").c_str());
}

std::vector<std::string> PrivateTmpfs::Enter() const {
  return {"nsenter", "-t", std::to_string(pid_), "-U", "-m", "--preserve-credentials", "--"};
}

std::string PrivateTmpfs::Outside(const std::string& path) const {
  return "/proc/" + std::to_string(pid_) + "/root" + path;
}

void PrivateTmpfs::Fill() {
  std::ofstream out(Outside(dir_ + kFiller), std::ios::binary);
  std::string block(4096, 'x');
  while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    out.flush();
  }
  // Whatever fits in less than a block goes too, a byte at a time.
  out.clear();
  while (out.put('x') && out.flush()) {
  }
}

void PrivateTmpfs::Free() { std::remove(Outside(dir_ + kFiller).c_str()); }

}  // namespace sluice::test
