// VerifyProgressPrinter: `sluice verify`'s progress, rows checked of the estimate per table.
// On a terminal one line is redrawn in place (and kept when its table is done); otherwise a
// plain line is written every few seconds and when a table is done, for logs.
#pragma once

#include <chrono>
#include <ostream>
#include <string>

#include "runtime/verify.h"

namespace sluice {

// Owned by the verify command; called from the verifying thread only. `out` must outlive it.
class VerifyProgressPrinter {
 public:
  using Clock = std::chrono::steady_clock;

  VerifyProgressPrinter(std::ostream& out, bool terminal,
                        std::chrono::milliseconds plain_every = std::chrono::seconds(5));

  void Update(const VerifyProgress& progress, Clock::time_point now = Clock::now());

  // "verify orders public.items: 1,200 of about 10,000 rows checked (12%)".
  static std::string Line(const VerifyProgress& progress);

 private:
  std::ostream& out_;
  const bool terminal_;
  const std::chrono::milliseconds plain_every_;
  Clock::time_point last_{};
  std::string table_;  // the table the last line was about
};

}  // namespace sluice
