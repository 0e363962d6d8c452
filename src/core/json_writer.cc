#include "core/json_writer.h"

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

}  // namespace

void AppendJsonEscaped(std::string* out, std::string_view s) {
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  size_t i = 0;
  while (i < s.size()) {
    // Eight bytes at a time while none needs escaping (most text has none). A short tail is
    // padded with bytes that need none, so short strings (keys, names) take one test too.
    size_t n = std::min<size_t>(8, s.size() - i);
    uint64_t word = 0x6161616161616161ULL;  // "aaaaaaaa"
    std::memcpy(&word, s.data() + i, n);
    if (!JsonWordNeedsEscape(word)) {
      i += n;
      continue;
    }
    for (size_t end = i + n; i < end; ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out->append(s.data() + run, i - run);
      AppendEscape(out, c);
      run = i + 1;
    }
  }
  out->append(s.data() + run, s.size() - run);
}

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ == 0) return;
  if (!first_) out_->push_back(',');
  first_ = false;
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
  Separate();
  out_->push_back('"');
  AppendJsonEscaped(out_, key);
  out_->append("\":");
  after_key_ = true;
}

void JsonWriter::String(std::string_view s) {
  Separate();
  out_->push_back('"');
  AppendJsonEscaped(out_, s);
  out_->push_back('"');
}

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
