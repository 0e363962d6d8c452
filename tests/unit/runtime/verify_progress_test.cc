#include "runtime/verify_progress.h"

#include <catch2/catch.hpp>
#include <sstream>

namespace sluice {

namespace {
using Clock = VerifyProgressPrinter::Clock;
using std::chrono::milliseconds;

VerifyProgress At(uint64_t rows, bool done = false, const std::string& table = "public.items") {
  return VerifyProgress{"p", table, rows, 10000, done};
}
}  // namespace

TEST_CASE("VerifyProgressPrinter: the line says rows checked of the estimate", "[unit][verify]") {
  CHECK(VerifyProgressPrinter::Line(At(1200)) ==
        "verify p public.items: 1,200 of about 10,000 rows checked (12%)");
  CHECK(VerifyProgressPrinter::Line(At(10200, true)) ==
        "verify p public.items: 10,200 rows checked, done");
  VerifyProgress unknown{"p", "public.t", 7, std::nullopt, false};
  CHECK(VerifyProgressPrinter::Line(unknown) == "verify p public.t: 7 rows checked");
}

TEST_CASE("VerifyProgressPrinter: plain lines every interval and per table when not a terminal",
          "[unit][verify]") {
  std::ostringstream out;
  VerifyProgressPrinter printer(out, false, std::chrono::seconds(5));
  const Clock::time_point t0 = Clock::now();
  printer.Update(At(1000), t0);
  printer.Update(At(2000), t0 + milliseconds(1000));
  CHECK(out.str().empty());  // within the interval of the table's start
  printer.Update(At(3000), t0 + milliseconds(5000));
  printer.Update(At(4000), t0 + milliseconds(6000));
  printer.Update(At(10000, true), t0 + milliseconds(6500));
  printer.Update(At(5, true, "public.b"), t0 + milliseconds(6600));
  CHECK(out.str() ==
        "verify p public.items: 3,000 of about 10,000 rows checked (30%)\n"
        "verify p public.items: 10,000 rows checked, done\n"
        "verify p public.b: 5 rows checked, done\n");
  CHECK(out.str().find('\r') == std::string::npos);
}

TEST_CASE("VerifyProgressPrinter: on a terminal one line is redrawn, kept when done",
          "[unit][verify]") {
  std::ostringstream out;
  VerifyProgressPrinter printer(out, true);
  const Clock::time_point t0 = Clock::now();
  printer.Update(At(1000), t0);
  printer.Update(At(1500), t0 + milliseconds(10));  // under the redraw interval
  printer.Update(At(2000), t0 + milliseconds(200));
  printer.Update(At(9000, true), t0 + milliseconds(210));
  CHECK(out.str() ==
        "\r\x1b[Kverify p public.items: 1,000 of about 10,000 rows checked (10%)"
        "\r\x1b[Kverify p public.items: 2,000 of about 10,000 rows checked (20%)"
        "\r\x1b[Kverify p public.items: 9,000 rows checked, done\n");
}

}  // namespace sluice
