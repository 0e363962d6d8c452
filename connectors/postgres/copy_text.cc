#include "connectors/postgres/copy_text.h"

#include <cstddef>

namespace sluice::pg {
namespace {

int OctalValue(char c) { return c >= '0' && c <= '7' ? c - '0' : -1; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes the escape at line[*pos] (the character after a backslash), appending the byte
// it stands for and advancing *pos past it. The caller checked *pos < line.size().
void Unescape(std::string_view line, size_t* pos, std::string* out) {
  char c = line[*pos];
  ++*pos;
  switch (c) {
    case 'b':
      out->push_back('\b');
      return;
    case 'f':
      out->push_back('\f');
      return;
    case 'n':
      out->push_back('\n');
      return;
    case 'r':
      out->push_back('\r');
      return;
    case 't':
      out->push_back('\t');
      return;
    case 'v':
      out->push_back('\v');
      return;
    case 'x': {
      int v = *pos < line.size() ? HexValue(line[*pos]) : -1;
      if (v < 0) break;  // "\x" without a hex digit is a literal 'x'
      ++*pos;
      if (int lo = *pos < line.size() ? HexValue(line[*pos]) : -1; lo >= 0) {
        v = v * 16 + lo;
        ++*pos;
      }
      out->push_back(static_cast<char>(v));
      return;
    }
    default:
      if (int v = OctalValue(c); v >= 0) {
        for (int i = 0; i < 2 && *pos < line.size() && OctalValue(line[*pos]) >= 0; ++i) {
          v = v * 8 + OctalValue(line[*pos]);
          ++*pos;
        }
        out->push_back(static_cast<char>(v));
        return;
      }
      break;
  }
  out->push_back(c);
}

// Parses the field starting at *pos into *out, leaving *pos at its delimiter (a tab) or
// at the end of the line. False on a trailing lone backslash.
bool ParseField(std::string_view line, size_t* pos, std::string* out) {
  size_t i = *pos;
  while (i < line.size()) {
    // Copy the run up to the next tab or backslash in one append.
    size_t run = i;
    while (i < line.size() && line[i] != '\t' && line[i] != '\\') ++i;
    out->append(line.data() + run, i - run);
    if (i == line.size() || line[i] == '\t') break;
    if (++i == line.size()) return false;  // lone backslash at the end
    Unescape(line, &i, out);
  }
  *pos = i;
  return true;
}

}  // namespace

bool ParseCopyTextLine(std::string_view line, std::vector<std::optional<std::string>>* fields) {
  size_t count = 0;
  size_t pos = 0;
  while (true) {
    if (count == fields->size()) fields->emplace_back();
    std::optional<std::string>& field = (*fields)[count++];
    // PostgreSQL compares the raw field with the NULL marker before unescaping.
    if (line.compare(pos, 2, "\\N") == 0 && (pos + 2 == line.size() || line[pos + 2] == '\t')) {
      field.reset();
      pos += 2;
    } else {
      if (field) {
        field->clear();
      } else {
        field.emplace();
      }
      if (!ParseField(line, &pos, &*field)) return false;
    }
    if (pos == line.size()) break;
    ++pos;  // the tab
  }
  fields->resize(count);
  return true;
}

}  // namespace sluice::pg
