// Text helpers of the config loader, free of yaml-cpp: ${VAR} interpolation, and mapping an
// offset inside a decoded YAML scalar back to the line and column of the file it came from.
// Together they let a diagnostic point at the exact character a user wrote.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config_model.h"

namespace sluice {

// Looks up an environment variable; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

struct InterpolateError {
  size_t offset = 0;  // where the offending `${` starts in the input
  std::string message;
};

struct Interpolated {
  std::string text;
  // origin[i] is the input offset that produced text[i]; substituted characters map to
  // their `${`. origin.size() == text.size() + 1, the last entry being input.size().
  std::vector<size_t> origin;
  std::vector<InterpolateError> errors;  // every bad reference, in input order
  bool ok() const { return errors.empty(); }
};

// Replaces ${VAR} with env(VAR) and ${VAR:-default} with env(VAR), or `default` when VAR is
// unset or empty (as the shell does); `$$` is a literal `$`, and a `$` followed by anything
// else is kept as is. VAR is [A-Za-z_][A-Za-z0-9_]*. An unset VAR without a default, a bad
// name or a missing `}` is an error; the text then keeps the reference unreplaced.
Interpolated Interpolate(std::string_view input, const EnvLookup& env);

// Maps offsets in a decoded YAML scalar (plain, 'single', "double" quoted, or block) to the
// 0-based line and column of the raw file. Built by walking the raw text from the scalar's
// mark alongside the decoded value; where the two cannot be aligned (exotic escapes or
// folding) it extrapolates from the last aligned character, which is still on the right line.
class ScalarPositions {
 public:
  struct Position {
    int line = 0;
    int column = 0;
  };

  ScalarPositions() = default;
  // `raw` is the whole file; `pos`, `line`, `column` the scalar's mark as the YAML parser
  // reports it (0-based, pointing at the opening quote, anchor or tag if there is one).
  ScalarPositions(std::string_view raw, size_t pos, int line, int column, std::string_view decoded);

  // Position of decoded[offset]; offset may be decoded.size() (just past the end).
  Position At(size_t offset) const;

 private:
  Position start_;
  std::vector<Position> positions_;  // one per aligned decoded byte, from offset 0
};

}  // namespace sluice
