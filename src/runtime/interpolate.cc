#include "runtime/interpolate.h"

#include <cctype>
#include <cstdlib>

namespace sluice {

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

bool IsValidName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// Offset of the `}` closing the `${` at `start`, counting nested `${`; npos if none.
size_t FindClose(std::string_view input, size_t start) {
  int depth = 1;
  for (size_t i = start + 2; i < input.size(); ++i) {
    if (input[i] == '$' && i + 1 < input.size() && input[i + 1] == '{') {
      ++depth;
      ++i;
    } else if (input[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

void Append(Interpolated& out, std::string_view text, size_t origin) {
  out.text.append(text);
  out.origin.insert(out.origin.end(), text.size(), origin);
}

// Expands the reference `${body}` found at `at`; appends the result to `out`.
void Expand(std::string_view body, size_t at, const EnvLookup& env, Interpolated& out) {
  size_t sep = body.find(":-");
  std::string name(body.substr(0, sep));
  if (!IsValidName(name)) {
    out.errors.push_back({at, "invalid variable name '" + name + "' in '${" + std::string(body) +
                                  "}' (names are letters, digits and '_', not starting with a "
                                  "digit)"});
    Append(out, "${" + std::string(body) + "}", at);
    return;
  }
  std::optional<std::string> value = env ? env(name) : std::nullopt;
  if (sep != std::string_view::npos && (!value || value->empty())) {
    // The default may itself hold references; errors in it point at this `${`.
    Interpolated inner = Interpolate(body.substr(sep + 2), env);
    for (auto& e : inner.errors) out.errors.push_back({at, std::move(e.message)});
    Append(out, inner.text, at);
    return;
  }
  if (!value) {
    out.errors.push_back({at, "environment variable '" + name + "' is not set (set it, or give a " +
                                  "default: ${" + name + ":-value})"});
    Append(out, "${" + std::string(body) + "}", at);
    return;
  }
  Append(out, *value, at);
}

}  // namespace

Interpolated Interpolate(std::string_view input, const EnvLookup& env) {
  Interpolated out;
  out.text.reserve(input.size());
  size_t i = 0;
  while (i < input.size()) {
    char next = i + 1 < input.size() ? input[i + 1] : '\0';
    if (input[i] != '$' || (next != '$' && next != '{')) {
      Append(out, input.substr(i, 1), i);
      ++i;
    } else if (next == '$') {
      Append(out, "$", i);
      i += 2;
    } else {
      size_t close = FindClose(input, i);
      if (close == std::string_view::npos) {
        out.errors.push_back({i, "unterminated '${': expected '}' to close the variable"});
        for (; i < input.size(); ++i) Append(out, input.substr(i, 1), i);
        break;
      }
      Expand(input.substr(i + 2, close - i - 2), i, env, out);
      i = close + 1;
    }
  }
  out.origin.push_back(input.size());
  return out;
}

namespace {

// Walks raw file text forward, keeping the 0-based line and column of the cursor.
class RawCursor {
 public:
  RawCursor(std::string_view raw, size_t pos, int line, int column)
      : raw_(raw), pos_(pos), at_{line, column} {}

  bool AtEnd() const { return pos_ >= raw_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < raw_.size() ? raw_[pos_ + ahead] : '\0';
  }
  ScalarPositions::Position at() const { return at_; }
  void Advance(size_t n = 1) {
    for (; n > 0 && !AtEnd(); --n, ++pos_) {
      if (raw_[pos_] == '\n') {
        ++at_.line;
        at_.column = 0;
      } else {
        ++at_.column;
      }
    }
  }
  void SkipBlanks() {
    while (Peek() == ' ' || Peek() == '\t') Advance();
  }
  void SkipToNextLine() {
    while (!AtEnd() && Peek() != '\n') Advance();
    Advance();
  }
  // Skips `&anchor` and `!tag` properties in front of a scalar.
  void SkipProperties() {
    while (Peek() == '&' || Peek() == '!') {
      while (!AtEnd() && Peek() != ' ' && Peek() != '\t' && Peek() != '\n') Advance();
      SkipBlanks();
    }
  }

 private:
  std::string_view raw_;
  size_t pos_;
  ScalarPositions::Position at_;
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// For a double-quoted escape at the cursor (`\` then `kind`), the raw length of the escape
// and the number of UTF-8 bytes it decodes to.
void EscapeSize(const RawCursor& cur, size_t* raw_len, size_t* decoded_len) {
  char kind = cur.Peek(1);
  size_t digits = kind == 'x' ? 2 : kind == 'u' ? 4 : kind == 'U' ? 8 : 0;
  if (digits == 0) {
    *raw_len = 2;
    *decoded_len = (kind == 'N' || kind == '_') ? 2 : (kind == 'L' || kind == 'P') ? 3 : 1;
    return;
  }
  unsigned long code = 0;
  for (size_t i = 0; i < digits; ++i) {
    int digit = HexValue(cur.Peek(2 + i));
    code = code * 16 + static_cast<unsigned long>(digit < 0 ? 0 : digit);
  }
  *raw_len = 2 + digits;
  *decoded_len = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

}  // namespace

ScalarPositions::ScalarPositions(std::string_view raw, size_t pos, int line, int column,
                                 std::string_view decoded)
    : start_{line, column} {
  if (pos > raw.size()) return;
  RawCursor cur(raw, pos, line, column);
  cur.SkipProperties();
  const char style = cur.Peek();
  const bool single = style == '\'';
  const bool dquoted = style == '"';
  if (single || dquoted) cur.Advance();
  if (style == '|' || style == '>') cur.SkipToNextLine();
  while (!cur.AtEnd() && (style == '|' || style == '>') && cur.Peek() == ' ') cur.Advance();
  start_ = cur.at();

  size_t i = 0;
  while (i < decoded.size() && !cur.AtEnd()) {
    char c = decoded[i];
    char r = cur.Peek();
    if (single && r == '\'') {
      if (cur.Peek(1) != '\'' || c != '\'') break;  // closing quote: cannot align further
      positions_.push_back(cur.at());
      cur.Advance(2);
      ++i;
    } else if (dquoted && r == '\\' && cur.Peek(1) == '\n') {
      cur.Advance(2);  // escaped line break: no output
      cur.SkipBlanks();
    } else if (dquoted && r == '\\') {
      size_t raw_len = 0, decoded_len = 0;
      EscapeSize(cur, &raw_len, &decoded_len);
      for (size_t k = 0; k < decoded_len && i < decoded.size(); ++k, ++i) {
        positions_.push_back(cur.at());
      }
      cur.Advance(raw_len);
    } else if (dquoted && r == '"') {
      break;
    } else if (r == c) {
      positions_.push_back(cur.at());
      cur.Advance();
      ++i;
    } else if (r == '\n' && (c == ' ' || c == '\n')) {
      positions_.push_back(cur.at());  // a folded line break
      cur.Advance();
      cur.SkipBlanks();
      ++i;
    } else if (r == ' ' || r == '\t' || r == '\n' || r == '\r') {
      cur.Advance();  // indentation or folded white space
    } else {
      break;
    }
  }
}

ScalarPositions::Position ScalarPositions::At(size_t offset) const {
  if (offset < positions_.size()) return positions_[offset];
  if (positions_.empty()) return {start_.line, start_.column + static_cast<int>(offset)};
  const Position& last = positions_.back();
  return {last.line, last.column + static_cast<int>(offset - (positions_.size() - 1))};
}

}  // namespace sluice
