#include "core/lsn.h"

#include <charconv>

namespace sluice {

namespace {

// Upper-case hex without leading zeros, as PostgreSQL prints each half of an LSN.
char* AppendHex(char* p, uint32_t v) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  int shift = 28;
  while (shift > 0 && ((v >> shift) & 0xf) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) *p++ = kDigits[(v >> shift) & 0xf];
  return p;
}

}  // namespace

// By hand rather than with snprintf: two positions are printed per change on the Kafka path,
// and snprintf costs about ten times as much.
std::string Lsn::ToString() const {
  char buf[17];
  char* p = AppendHex(buf, static_cast<uint32_t>(value_ >> 32));
  *p++ = '/';
  p = AppendHex(p, static_cast<uint32_t>(value_ & 0xffffffffu));
  return std::string(buf, p);
}

std::optional<Lsn> Lsn::Parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= text.size()) {
    return std::nullopt;
  }
  uint32_t hi = 0;
  uint32_t lo = 0;
  auto hi_part = text.substr(0, slash);
  auto lo_part = text.substr(slash + 1);
  auto r1 = std::from_chars(hi_part.data(), hi_part.data() + hi_part.size(), hi, 16);
  auto r2 = std::from_chars(lo_part.data(), lo_part.data() + lo_part.size(), lo, 16);
  if (r1.ec != std::errc() || r1.ptr != hi_part.data() + hi_part.size()) return std::nullopt;
  if (r2.ec != std::errc() || r2.ptr != lo_part.data() + lo_part.size()) return std::nullopt;
  return Lsn((static_cast<uint64_t>(hi) << 32) | lo);
}

}  // namespace sluice
