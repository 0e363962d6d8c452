#include "core/redact.h"

#include <array>
#include <cctype>

namespace sluice {

namespace {

bool StartsWithCi(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[pos + i])) != word[i]) return false;
  }
  return true;
}

// End of a conninfo/query value starting at `pos`: a quoted value ends at its closing
// quote, a bare one at whitespace, '&' or ';'.
size_t ValueEnd(std::string_view text, size_t pos) {
  if (pos < text.size() && text[pos] == '\'') {
    size_t i = pos + 1;
    while (i < text.size() && text[i] != '\'') i += (text[i] == '\\') ? 2 : 1;
    return std::min(i + 1, text.size());
  }
  size_t i = pos;
  while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])) && text[i] != '&' &&
         text[i] != ';') {
    ++i;
  }
  return i;
}

}  // namespace

std::string Redact(std::string_view text) {
  static constexpr std::array<std::string_view, 5> kKeys = {
      "password=", "passwd=", "pwd=", "token=", "secret="};
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool matched = false;
    bool at_word_start = i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1]));
    for (auto key : kKeys) {
      if (at_word_start && StartsWithCi(text, i, key)) {
        out.append(text.substr(i, key.size()));
        out.append("***");
        i = ValueEnd(text, i + key.size());
        matched = true;
        break;
      }
    }
    if (matched) continue;
    // scheme://user:secret@host -> scheme://user:***@host
    if (text.compare(i, 3, "://") == 0) {
      size_t start = i + 3;
      size_t at = text.find('@', start);
      size_t stop = text.find_first_of("/ \t\n", start);
      if (at != std::string_view::npos && (stop == std::string_view::npos || at < stop)) {
        size_t colon = text.find(':', start);
        if (colon != std::string_view::npos && colon < at) {
          out.append(text.substr(i, colon + 1 - i));
          out.append("***");
          i = at;
          continue;
        }
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

}  // namespace sluice
