#include "connectors/postgres/copy_text.h"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "util/word_scan.h"

namespace sluice::pg {
namespace {

int OctalValue(char c) { return c >= '0' && c <= '7' ? c - '0' : -1; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The index of the first tab or backslash in line[i..], or line.size(). Sixteen bytes at a
// time with SSE2 (eight without): a row is mostly long runs of plain text between tabs.
static_assert(std::endian::native == std::endian::little,
              "FindDelimiter reads words little-endian");
size_t FindDelimiter(std::string_view line, size_t i) {
  const char* p = line.data();
  const size_t n = line.size();
#if defined(__SSE2__)
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i backslash = _mm_set1_epi8('\\');
  auto delimiters = [&](const char* at) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
    return static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, backslash))));
  };
  while (i + 16 <= n) {
    if (unsigned found = delimiters(p + i); found != 0) {
      return i + static_cast<size_t>(__builtin_ctz(found));
    }
    i += 16;
  }
  if (i < n && n >= 16) {
    // The line's last sixteen bytes, less those before i (the mask is exact per byte).
    unsigned found = delimiters(p + n - 16) >> (16 - (n - i));
    return found != 0 ? i + static_cast<size_t>(__builtin_ctz(found)) : n;
  }
#endif
  while (i + 8 <= n) {
    uint64_t word = LoadWord(p + i);
    uint64_t found = BytesEqual(word, '\t') | BytesEqual(word, '\\');
    if (found != 0) return i + static_cast<size_t>(__builtin_ctzll(found) >> 3);
    i += 8;
  }
  while (i < n && p[i] != '\t' && p[i] != '\\') ++i;
  return i;
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
    i = FindDelimiter(line, i);
    out->append(line.data() + run, i - run);
    if (i == line.size() || line[i] == '\t') break;
    if (++i == line.size()) return false;  // lone backslash at the end
    Unescape(line, &i, out);
  }
  *pos = i;
  return true;
}

}  // namespace

bool CopyFieldReader::Next(CopyField* field, std::string* scratch) {
  if (done_) return false;
  std::string_view line = line_;
  size_t pos = pos_;
  size_t i = FindDelimiter(line, pos);
  field->null = false;
  if (i == line.size() || line[i] == '\t') {
    field->text = line.substr(pos, i - pos);
  } else if (i == pos && pos + 1 < line.size() && line[pos + 1] == 'N' &&
             (pos + 2 == line.size() || line[pos + 2] == '\t')) {
    // PostgreSQL compares the raw field with the NULL marker before unescaping.
    field->null = true;
    field->text = {};
    i = pos + 2;
  } else {
    scratch->clear();
    if (!ParseField(line, &pos, scratch)) {
      malformed_ = true;
      done_ = true;
      return false;
    }
    i = pos;
    field->text = *scratch;
  }
  if (i == line.size()) {
    done_ = true;
  } else {
    pos_ = i + 1;  // past the tab
  }
  return true;
}

bool ParseCopyTextLine(std::string_view line, std::vector<std::optional<std::string>>* fields) {
  CopyFieldReader reader(line);
  CopyField field;
  std::string scratch;
  size_t n = 0;
  while (reader.Next(&field, &scratch)) {
    if (fields->size() <= n) fields->emplace_back();
    std::optional<std::string>& out = (*fields)[n++];
    if (field.null) {
      out.reset();
    } else if (out) {
      out->assign(field.text);  // keeps the string's buffer
    } else {
      out.emplace(field.text);
    }
  }
  if (reader.malformed()) return false;
  fields->resize(n);
  return true;
}

}  // namespace sluice::pg
