// PrivateTmpfs: a small file system the test can fill, without root. A tmpfs is mounted on a
// directory inside a user and mount namespace of its own (`unshare -rm`), kept alive by a
// holder process; commands see it when run through Enter() (`nsenter`), and the test reaches
// its files through /proc/<holder>/root. Fails the test when the machine does not allow
// unprivileged user namespaces.
#pragma once

#include <string>
#include <vector>

namespace sluice::test {

// One test thread.
class PrivateTmpfs {
 public:
  // `dir` must be an absolute path; it is created. `size` as mount(8) takes it ("256k").
  PrivateTmpfs(const std::string& dir, const std::string& size);
  ~PrivateTmpfs();  // kills the holder; the tmpfs goes with it
  PrivateTmpfs(const PrivateTmpfs&) = delete;
  PrivateTmpfs& operator=(const PrivateTmpfs&) = delete;

  // A wrapper (see SluiceProcess) that runs a command inside the namespace.
  std::vector<std::string> Enter() const;
  // `path` (absolute, under dir) as the test reaches it from outside the namespace.
  std::string Outside(const std::string& path) const;
  // Takes all the free space (one file); Free() gives it back.
  void Fill();
  void Free();

 private:
  std::string dir_;
  int pid_ = -1;
};

}  // namespace sluice::test
