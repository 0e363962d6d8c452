// Big-endian integers, as PostgreSQL's wire formats carry them: the replication protocol's
// messages, pgoutput, and the send forms of a binary COPY. Pure code.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::pg {

// The unsigned integer in the `n` (at most 8) bytes at `p`, most significant first.
inline uint64_t ReadBigEndian(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace sluice::pg
