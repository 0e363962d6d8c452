// Parser for one line of `COPY ... TO STDOUT` in text format (the default): the snapshot
// reader streams table rows this way. Pure code.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::pg {

// Splits one line (without its trailing newline) into fields: tab-separated, a field that
// is exactly "\N" is NULL, and the escapes \\ \t \n \r \b \f \v, \NNN (1-3 octal digits)
// and \xHH (1-2 hex digits) are undone; a backslash before any other character yields
// that character (so "\\N" is the two-character string "\N"). Returns false on malformed
// input (a trailing lone backslash). Reuses `fields` and the strings it holds; fields
// beyond the new count are dropped. A line always has at least one field: an empty line
// is one empty string (ambiguous only for zero-column tables, which the caller knows).
bool ParseCopyTextLine(std::string_view line, std::vector<std::optional<std::string>>* fields);

// One field of a parsed line: NULL, or its unescaped text.
struct CopyField {
  bool null = false;
  std::string_view text;
};

// Reads the fields of one line in order without storing them (ParseCopyTextLine's rules):
// the snapshot decodes each field as it comes.
class CopyFieldReader {
 public:
  explicit CopyFieldReader(std::string_view line) : line_(line) {}
  // The next field, or false once the line is done or malformed. A field without escapes
  // views the line; one with escapes is unescaped into *scratch, which it then views.
  bool Next(CopyField* field, std::string* scratch);
  // A trailing lone backslash ended the line.
  bool malformed() const { return malformed_; }

 private:
  std::string_view line_;
  size_t pos_ = 0;
  bool done_ = false;
  bool malformed_ = false;
};

}  // namespace sluice::pg
