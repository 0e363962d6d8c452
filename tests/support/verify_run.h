// Test support: `sluice verify -c DIR/sluice.yaml` run to its end, its exit code and output.
#pragma once

#include <string>
#include <vector>

#include "support/test_env.h"

namespace sluice::test {

struct VerifyOutcome {
  int code = -1;
  std::string out;  // stdout and stderr of this run alone
};

// Runs verify with `--wait 60` and `extra` arguments (up to 120 s).
VerifyOutcome RunVerify(const TempDir& dir, const std::vector<std::string>& extra = {});

// Verify names each difference in `expected` and exits 1; --repair fixes all `count` of
// them and exits 0; a last verify finds the sinks equal.
void RequireFoundThenRepaired(const TempDir& dir, const std::vector<std::string>& expected,
                              int count);

inline bool Has(const VerifyOutcome& o, const std::string& text) {
  return o.out.find(text) != std::string::npos;
}

}  // namespace sluice::test
