// ByteReader: bounds-checked reads of the binary log's little-endian integers, packed
// ("length-encoded") integers and byte strings. Pure. A read past the end yields zeros or an
// empty view and marks the reader failed, so a decoder reads a whole structure and checks
// ok() once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::mariadb {

// Views the bytes it was given: they must outlive it. Not thread-safe.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : b_(bytes) {}

  bool ok() const { return ok_; }
  size_t left() const { return b_.size() - pos_; }
  size_t pos() const { return pos_; }

  // `n` (at most 8) bytes, least significant first.
  uint64_t Uint(size_t n) {
    std::string_view s = Bytes(n);
    uint64_t v = 0;
    for (size_t i = s.size(); i > 0; --i) v = (v << 8) | static_cast<uint8_t>(s[i - 1]);
    return v;
  }
  // `n` (at most 8) bytes, most significant first (the row images' temporal formats).
  uint64_t UintBE(size_t n) {
    std::string_view s = Bytes(n);
    uint64_t v = 0;
    for (char c : s) v = (v << 8) | static_cast<uint8_t>(c);
    return v;
  }
  uint8_t U8() { return static_cast<uint8_t>(Uint(1)); }
  // A packed integer: one byte below 0xfb, else 0xfc + 2 bytes, 0xfd + 3, 0xfe + 8.
  uint64_t Packed() {
    uint8_t first = U8();
    if (first < 0xfb) return first;
    if (first == 0xfc) return Uint(2);
    if (first == 0xfd) return Uint(3);
    if (first == 0xfe) return Uint(8);
    ok_ = false;  // 0xfb (NULL) and 0xff do not occur where a number is expected
    return 0;
  }
  std::string_view Bytes(size_t n) {
    if (n > left()) {
      ok_ = false;
      pos_ = b_.size();
      return {};
    }
    std::string_view s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // A packed length, then that many bytes.
  std::string_view PackedBytes() { return Bytes(static_cast<size_t>(Packed())); }
  std::string_view Rest() { return Bytes(left()); }
  void Skip(size_t n) { (void)Bytes(n); }

 private:
  std::string_view b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace sluice::mariadb
