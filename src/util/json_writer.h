// JsonWriter: appends JSON to a string without building a DOM. Used on the hot path
// (one JSON line per change), where a DOM would cost more than the rest of the pipeline.
// The caller is responsible for well-formed nesting; commas are inserted automatically.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/value.h"
#include "util/word_scan.h"

namespace sluice {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view s);
  void Int(int64_t v);
  void UInt(uint64_t v);
  void Bool(bool v);
  void Null();
  // Embeds already-valid JSON text as one value.
  void Raw(std::string_view json);
  // A column value by its kind (unchanged values must be filtered by the caller).
  void Value(const sluice::Value& v);
  // {"col": value, ...}; unchanged values are left out.
  void RowObject(const Row& row);

 private:
  // Whether a comma goes before the next value or key (and records that one is coming).
  bool CommaDue();
  void Separate();
  // `"s"` escaped, then `tail` unless 0, after any comma due.
  void Quoted(std::string_view s, char tail);
  std::string* out_;
  // Open containers. Only the innermost one's "nothing written yet" is kept: an enclosing
  // container has always written something (the inner container itself).
  int depth_ = 0;
  bool first_ = true;
  bool after_key_ = false;
};

// Appends `s` with JSON escaping (no surrounding quotes).
void AppendJsonEscaped(std::string* out, std::string_view s);

// Whether any of the 8 bytes in `word` is one a JSON string must escape: a control byte
// (< 0x20), '"' or '\\'. Text is scanned a word at a time with it, writing and reading, since
// most text holds no such byte.
inline bool JsonWordNeedsEscape(uint64_t word) {
  return (BytesBelow(word, 0x20) | BytesEqual(word, '"') | BytesEqual(word, '\\')) != 0;
}

}  // namespace sluice
