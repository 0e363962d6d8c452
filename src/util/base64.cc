#include "util/base64.h"

#include <cstdint>

namespace sluice {

void AppendBase64(const unsigned char* in, size_t n, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    char quad[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63],
                    kAlphabet[v & 63]};
    out->append(quad, 4);
  }
  if (i == n) return;
  uint32_t v = uint32_t{in[i]} << 16;
  if (i + 1 < n) v |= uint32_t{in[i + 1]} << 8;
  char quad[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63],
                  i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=', '='};
  out->append(quad, 4);
}

}  // namespace sluice
