// Base64 (RFC 4648, with padding): how the line format carries binary column values.
#pragma once

#include <cstddef>
#include <string>

namespace sluice {

// Appends the base64 of the `n` bytes at `in` to `out`. Called on consecutive pieces of one
// value, every piece but the last must be a multiple of 3 bytes long.
void AppendBase64(const unsigned char* in, size_t n, std::string* out);

}  // namespace sluice
