// Lsn: a PostgreSQL WAL position, kept as a strong type so it never mixes with
// counts or offsets. Text form is PostgreSQL's "X/X" (upper hex, no padding).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

class Lsn {
 public:
  constexpr Lsn() = default;
  constexpr explicit Lsn(uint64_t v) : value_(v) {}
  constexpr uint64_t value() const { return value_; }
  constexpr bool valid() const { return value_ != 0; }
  auto operator<=>(const Lsn&) const = default;

  // "16/B374D848"
  std::string ToString() const;
  // Accepts "X/X" in hex; nullopt on anything else.
  static std::optional<Lsn> Parse(std::string_view text);

 private:
  uint64_t value_ = 0;
};

// A change's place in the stream: the commit LSN of its transaction and its
// ordinal inside it. Snapshot rows carry (snapshot_lsn, 0). Totally ordered per slot.
struct Position {
  Lsn lsn;
  uint64_t seq = 0;
  auto operator<=>(const Position&) const = default;
};

}  // namespace sluice
