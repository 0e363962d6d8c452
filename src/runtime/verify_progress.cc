#include "runtime/verify_progress.h"

#include <algorithm>
#include <cstdio>

namespace sluice {

namespace {

// A terminal's line is redrawn at most this often.
constexpr std::chrono::milliseconds kRedrawEvery(100);

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

VerifyProgressPrinter::VerifyProgressPrinter(std::ostream& out, bool terminal,
                                             std::chrono::milliseconds plain_every)
    : out_(out), terminal_(terminal), plain_every_(plain_every) {}

std::string VerifyProgressPrinter::Line(const VerifyProgress& p) {
  std::string line = "verify " + p.pipeline + " " + p.table + ": " + Thousands(p.rows_checked);
  // An estimate below the rows already read says nothing more.
  if (p.rows_estimated && *p.rows_estimated >= p.rows_checked && !p.table_done) {
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.0f%%",
                  100.0 * static_cast<double>(p.rows_checked) /
                      static_cast<double>(std::max<uint64_t>(*p.rows_estimated, 1)));
    line += " of about " + Thousands(*p.rows_estimated) + " rows checked (" + pct + ")";
  } else {
    line += " rows checked";
  }
  return line + (p.table_done ? ", done" : "");
}

void VerifyProgressPrinter::Update(const VerifyProgress& p, Clock::time_point now) {
  const bool new_table = p.table != table_;
  const auto every = terminal_ ? std::chrono::milliseconds(kRedrawEvery) : plain_every_;
  if (!p.table_done && !new_table && now - last_ < every) return;
  last_ = now;
  table_ = p.table;
  if (terminal_) {
    out_ << "\r\x1b[K" << Line(p) << (p.table_done ? "\n" : "") << std::flush;
  } else if (!new_table || p.table_done) {  // a table's first batch waits for the interval
    out_ << Line(p) << "\n" << std::flush;
  }
}

}  // namespace sluice
