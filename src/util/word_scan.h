// Byte tests on eight bytes at once, for scanners of text that is mostly plain (JSON strings,
// COPY lines): a word is tested with a few integer operations instead of eight compares.
// Each returns a mask with the high bit set in the bytes that match. The lowest set bit is
// always a true match (higher ones can be false after a true one, through the borrow), so
// "any match" and "first match" (its byte index on a little-endian load) are both exact.
#pragma once

#include <cstdint>
#include <cstring>

namespace sluice {

inline constexpr uint64_t kEachByte = 0x0101010101010101ULL;
inline constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// The eight bytes at `p` as one word (a fixed-size memcpy: one unaligned load, no call).
inline uint64_t LoadWord(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

// Bytes of `word` below `n` (n at most 0x80).
inline uint64_t BytesBelow(uint64_t word, uint8_t n) {
  return (word - kEachByte * n) & ~word & kHighBits;
}

// Bytes of `word` equal to `byte`.
inline uint64_t BytesEqual(uint64_t word, uint8_t byte) {
  return BytesBelow(word ^ (kEachByte * byte), 1);
}

}  // namespace sluice
