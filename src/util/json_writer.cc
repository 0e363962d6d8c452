#include "util/json_writer.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace sluice {

namespace {

void AppendEscape(std::string* out, unsigned char c) {
  static const char* kHex = "0123456789abcdef";
  switch (c) {
    case '"':
      out->append("\\\"");
      break;
    case '\\':
      out->append("\\\\");
      break;
    case '\n':
      out->append("\\n");
      break;
    case '\r':
      out->append("\\r");
      break;
    case '\t':
      out->append("\\t");
      break;
    case '\b':
      out->append("\\b");
      break;
    case '\f':
      out->append("\\f");
      break;
    default: {
      char buf[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out->append(buf, 6);
    }
  }
}

// Strings up to this long that need no escaping (keys, most values) are written with one
// append together with their quotes, comma and colon.
constexpr size_t kShort = 32;

bool ByteNeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// Whether any byte of s needs escaping: a word at a time; the last word overlaps the one
// before instead of being padded, and strings under 8 bytes go byte by byte.
bool NeedsEscape(std::string_view s) {
  size_t n = s.size();
  if (n < 8) {
    for (char c : s) {
      if (ByteNeedsEscape(static_cast<unsigned char>(c))) return true;
    }
    return false;
  }
  for (size_t i = 0; i + 8 <= n; i += 8) {
    if (JsonWordNeedsEscape(LoadWord(s.data() + i))) return true;
  }
  return n % 8 != 0 && JsonWordNeedsEscape(LoadWord(s.data() + n - 8));
}

}  // namespace

void AppendJsonEscaped(std::string* out, std::string_view s) {
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  // Escapes the bytes [from, to) that need it (the others stay in the run).
  auto escape = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (!ByteNeedsEscape(c)) continue;
      out->append(s.data() + run, i - run);
      AppendEscape(out, c);
      run = i + 1;
    }
  };
  // Eight bytes at a time while none needs escaping (most text has none).
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    if (JsonWordNeedsEscape(LoadWord(s.data() + i))) escape(i, i + 8);
  }
  // The tail: tested as the last eight bytes (overlapping bytes already done, which changes
  // nothing), or byte by byte in a string under eight bytes.
  if (i < s.size() && (s.size() < 8 || JsonWordNeedsEscape(LoadWord(s.data() + s.size() - 8)))) {
    escape(i, s.size());
  }
  out->append(s.data() + run, s.size() - run);
}

bool JsonWriter::CommaDue() {
  if (after_key_) {
    after_key_ = false;
    return false;
  }
  if (depth_ == 0) return false;
  bool comma = !first_;
  first_ = false;
  return comma;
}

void JsonWriter::Separate() {
  if (CommaDue()) out_->push_back(',');
}

void JsonWriter::Quoted(std::string_view s, char tail) {
  bool comma = CommaDue();
  if (s.size() <= kShort && !NeedsEscape(s)) {
    char buf[kShort + 4];
    size_t n = 0;
    if (comma) buf[n++] = ',';
    buf[n++] = '"';
    std::memcpy(buf + n, s.data(), s.size());
    n += s.size();
    buf[n++] = '"';
    if (tail != 0) buf[n++] = tail;
    out_->append(buf, n);
    return;
  }
  if (comma) out_->push_back(',');
  out_->push_back('"');
  AppendJsonEscaped(out_, s);
  out_->push_back('"');
  if (tail != 0) out_->push_back(tail);
}

void JsonWriter::BeginObject() {
  Separate();
  out_->push_back('{');
  ++depth_;
  first_ = true;
}

void JsonWriter::EndObject() {
  out_->push_back('}');
  --depth_;
  first_ = false;
}

void JsonWriter::BeginArray() {
  Separate();
  out_->push_back('[');
  ++depth_;
  first_ = true;
}

void JsonWriter::EndArray() {
  out_->push_back(']');
  --depth_;
  first_ = false;
}

void JsonWriter::Key(std::string_view key) {
  Quoted(key, ':');
  after_key_ = true;
}

void JsonWriter::String(std::string_view s) { Quoted(s, 0); }

void JsonWriter::Int(int64_t v) {
  Separate();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_->append(buf, r.ptr);
}

void JsonWriter::UInt(uint64_t v) {
  Separate();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_->append(buf, r.ptr);
}

void JsonWriter::Bool(bool v) {
  Separate();
  out_->append(v ? "true" : "false");
}

void JsonWriter::Null() {
  Separate();
  out_->append("null");
}

void JsonWriter::Raw(std::string_view json) {
  Separate();
  out_->append(json);
}

void JsonWriter::Value(const sluice::Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
    case ValueKind::kUnchanged:
      Null();
      return;
    case ValueKind::kBool:
    case ValueKind::kInt:
    case ValueKind::kJson:
      Raw(v.text);
      return;
    case ValueKind::kFloat:
      if (v.text == "NaN" || v.text == "Infinity" || v.text == "-Infinity") {
        String(v.text);
      } else {
        Raw(v.text);
      }
      return;
    case ValueKind::kNumeric:
    case ValueKind::kString:
      String(v.text);
      return;
  }
}

void JsonWriter::RowObject(const Row& row) {
  BeginObject();
  for (const Field& f : row) {
    if (f.value.is_unchanged()) continue;
    Key(f.name);
    Value(f.value);
  }
  EndObject();
}

}  // namespace sluice
