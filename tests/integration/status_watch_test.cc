// `sluice status --watch` against a running sluice: with stdout not a terminal, one table
// after another, each under a line with the address and the time, with no screen control.
#include <signal.h>

#include <catch2/catch.hpp>

#include "http_support.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {

namespace {
size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}
}  // namespace

TEST_CASE("StatusWatch: the table again every second, plain when not a terminal",
          "[integration][http]") {
  TestDb db("it_status_watch");
  CreateItems(db, 5);
  TempDir dir("status-watch");
  WriteFile(dir.File("sluice.yaml"),
            StdoutConfig(dir, db.Dsn(), "  watched: src.public.items | out\n"));
  auto sluice = StartSluice(dir);
  const int port = HttpPort(dir);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  SluiceProcess watch({"status", "--watch", "--address", address}, dir.File("watch.out"),
                      dir.File("watch.err"));
  const std::string header = "sluice at " + address + ", ";
  CHECK(WaitFor([&] { return Count(ReadFile(dir.File("watch.out")), header) >= 3; },
                std::chrono::seconds(30)));
  watch.Signal(SIGTERM);
  CHECK(watch.Wait(std::chrono::seconds(10)) != -1);
  const std::string out = ReadFile(dir.File("watch.out"));
  INFO(out);
  CHECK(Count(out, "watched") >= 3);  // the pipeline in every table
  CHECK(out.find("\x1b[") == std::string::npos);
}

}  // namespace sluice::test
