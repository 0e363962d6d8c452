#include "support/verify_run.h"

#include <unistd.h>

#include <catch2/catch.hpp>

namespace sluice::test {

VerifyOutcome RunVerify(const TempDir& dir, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"verify", "-c", dir.File("sluice.yaml"), "--wait", "60"};
  args.insert(args.end(), extra.begin(), extra.end());
  // RunSluice appends: start from empty files, so each outcome is this run's alone.
  ::unlink(dir.File("verify.out").c_str());
  ::unlink(dir.File("verify.err").c_str());
  VerifyOutcome o;
  o.code =
      RunSluice(args, dir.File("verify.out"), dir.File("verify.err"), std::chrono::seconds(120));
  o.out = ReadFile(dir.File("verify.out")) + ReadFile(dir.File("verify.err"));
  return o;
}

void RequireFoundThenRepaired(const TempDir& dir, const std::vector<std::string>& expected,
                              int count) {
  VerifyOutcome found = RunVerify(dir);
  INFO(found.out);
  CHECK(found.code == 1);
  for (const std::string& e : expected) CHECK(Has(found, e));
  CHECK(Has(found, "result: differences found"));

  VerifyOutcome repaired = RunVerify(dir, {"--repair"});
  INFO(repaired.out);
  CHECK(repaired.code == 0);
  CHECK(Has(repaired, "result: " + std::to_string(count) + " differences repaired"));

  VerifyOutcome again = RunVerify(dir);
  INFO(again.out);
  CHECK(again.code == 0);
  CHECK(Has(again, "every verified sink equals the source"));
}

}  // namespace sluice::test
