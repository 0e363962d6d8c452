// Column values as sluice carries them: the PostgreSQL text form plus a kind that says
// how to render it in JSON. Keeping the text keeps the meaning: numeric never becomes a
// double, timestamps keep their zone, and NULL is distinct from an unchanged TOAST value.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

enum class ValueKind : uint8_t {
  kNull,       // SQL NULL
  kUnchanged,  // an unchanged TOASTed value the source did not send; sinks keep what they have
  kBool,       // text is "true" or "false"
  kInt,        // text is a JSON integer literal
  kFloat,      // text is a JSON number, or "NaN"/"Infinity"/"-Infinity" (rendered as strings)
  kNumeric,    // exact decimal text, rendered as a JSON string so no precision is lost
  kString,     // any text, rendered as a JSON string (ISO 8601 times, uuid, bytea base64, ...)
  kJson,       // a JSON document, embedded as is (json/jsonb)
};

struct Value {
  ValueKind kind = ValueKind::kNull;
  std::string text;

  static Value Null() { return {}; }
  static Value Unchanged() { return {ValueKind::kUnchanged, {}}; }
  static Value Of(ValueKind kind, std::string text) { return {kind, std::move(text)}; }
  bool is_null() const { return kind == ValueKind::kNull; }
  bool is_unchanged() const { return kind == ValueKind::kUnchanged; }
  bool operator==(const Value&) const = default;
};

struct Field {
  std::string name;
  Value value;
  bool operator==(const Field&) const = default;
};

// A row: columns in table order. Small, so linear lookup by name is the fast path.
using Row = std::vector<Field>;

// The field called `name`, or nullptr.
const Field* FindField(const Row& row, std::string_view name);
Field* FindField(Row& row, std::string_view name);

}  // namespace sluice
