#include "connectors/kafka/line_reader.h"

#include <cstring>

#include "util/json_writer.h"

namespace sluice::kafka {

namespace {

// A cursor over the text. Every Read* returns false on anything the fast path does not take.
class Reader {
 public:
  explicit Reader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  void SkipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool AtEnd() {
    SkipSpace();
    return p_ == end_;
  }
  char Peek() {
    SkipSpace();
    return p_ < end_ ? *p_ : '\0';
  }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++p_;
    return true;
  }
  bool ConsumeWord(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }

  // A string without \u escapes, in valid UTF-8.
  bool ReadString(std::string* out) {
    if (!Consume('"')) return false;
    out->clear();
    while (true) {
      const char* start = p_;
      bool high = false;
      // Eight bytes at a time up to the first that needs a look.
      for (; end_ - p_ >= 8; p_ += 8) {
        uint64_t word = LoadWord(p_);
        if (JsonWordNeedsEscape(word)) break;
        high |= (word & kHighBits) != 0;
      }
      while (p_ < end_ && *p_ != '"' && *p_ != '\\') {
        auto c = static_cast<unsigned char>(*p_);
        if (c < 0x20) return false;  // control characters must be escaped in JSON
        high |= c >= 0x80;
        ++p_;
      }
      if (p_ == end_ || (high && !ValidUtf8(start, p_))) return false;
      out->append(start, p_);
      if (*p_++ == '"') return true;
      if (p_ == end_) return false;
      switch (*p_++) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        default:
          return false;  // \u (or an invalid escape): the general parser decides
      }
    }
  }

  // An integer of at most 18 digits (so int64 holds it and its text is what a JSON
  // document would print again); not "-0".
  bool ReadInteger(std::string_view* text) {
    SkipSpace();
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    const char* digits = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    size_t n = static_cast<size_t>(p_ - digits);
    if (n == 0 || n > 18 || (n > 1 && *digits == '0')) return false;
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;  // a float
    if (digits != start && n == 1 && *digits == '0') return false;
    *text = std::string_view(start, static_cast<size_t>(p_ - start));
    return true;
  }

  bool ReadUInt(uint64_t* out) {
    std::string_view text;
    if (!ReadInteger(&text) || text[0] == '-') return false;
    uint64_t v = 0;
    for (char c : text) v = v * 10 + static_cast<uint64_t>(c - '0');
    *out = v;
    return true;
  }

  // A column value: string, integer, true, false or null.
  bool ReadValue(Value* out) {
    switch (Peek()) {
      case '"':
        out->kind = ValueKind::kString;
        return ReadString(&out->text);
      case 't':
        *out = Value::Of(ValueKind::kBool, "true");
        return ConsumeWord("true");
      case 'f':
        *out = Value::Of(ValueKind::kBool, "false");
        return ConsumeWord("false");
      case 'n':
        *out = Value::Null();
        return ConsumeWord("null");
      default: {
        std::string_view text;
        if (!ReadInteger(&text)) return false;
        *out = Value::Of(ValueKind::kInt, std::string(text));
        return true;
      }
    }
  }

  // {"col":value,...} into `row`; null leaves `row` empty. Columns must be distinct.
  bool ReadRow(std::optional<Row>* row) {
    row->reset();
    if (Peek() == 'n') return ConsumeWord("null");
    if (!Consume('{')) return false;
    Row& r = row->emplace();
    if (Consume('}')) return true;
    do {
      Field f;
      if (!ReadString(&f.name) || !Consume(':') || !ReadValue(&f.value)) return false;
      for (const Field& other : r) {
        if (other.name == f.name) return false;
      }
      r.push_back(std::move(f));
    } while (Consume(','));
    return Consume('}');
  }

  bool ReadStringArray(std::vector<std::string>* out) {
    out->clear();
    if (!Consume('[')) return false;
    if (Consume(']')) return true;
    do {
      if (!ReadString(&out->emplace_back())) return false;
    } while (Consume(','));
    return Consume(']');
  }

  // A field this reader does not know: a scalar is skipped, anything else declined.
  bool SkipScalar() {
    Value ignored;
    return ReadValue(&ignored);
  }

 private:
  static bool ValidUtf8(const char* p, const char* end) {
    while (p < end) {
      auto c = static_cast<unsigned char>(*p);
      int more = c < 0x80             ? 0
                 : (c & 0xE0) == 0xC0 ? 1
                 : (c & 0xF0) == 0xE0 ? 2
                 : (c & 0xF8) == 0xF0 ? 3
                                      : -1;
      if (more < 0 || end - p <= more) return false;
      uint32_t cp = more == 0 ? c : c & (0x3F >> more);
      for (int i = 1; i <= more; ++i) {
        auto cc = static_cast<unsigned char>(p[i]);
        if ((cc & 0xC0) != 0x80) return false;
        cp = (cp << 6) | (cc & 0x3F);
      }
      // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
      static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
      if (cp < kMin[more] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
      p += more + 1;
    }
    return true;
  }

  const char* p_;
  const char* end_;
};

bool ReadOptionalString(Reader& r, std::optional<std::string>* out) {
  return r.ReadString(&out->emplace());
}

// Dispatches on the name's length first: one string compare per field, not a dozen.
bool ReadField(Reader& r, const std::string& name, SluiceFields* f) {
  switch (name.size()) {
    case 2:
      if (name == "op") return ReadOptionalString(r, &f->op);
      break;
    case 3:
      if (name == "key") return r.ReadRow(&f->key);
      if (name == "lsn") return ReadOptionalString(r, &f->lsn);
      if (name == "seq") return r.ReadUInt(&f->seq.emplace());
      if (name == "xid") return r.ReadUInt(&f->xid.emplace());
      break;
    case 5:
      if (name == "table") return ReadOptionalString(r, &f->table);
      if (name == "after") return r.ReadRow(&f->after);
      break;
    case 6:
      if (name == "source") return ReadOptionalString(r, &f->source);
      if (name == "schema") return ReadOptionalString(r, &f->schema);
      if (name == "before") return r.ReadRow(&f->before);
      break;
    case 7:
      if (name == "old_key") return r.ReadRow(&f->old_key);
      break;
    case 9:
      if (name == "unchanged") return r.ReadStringArray(&f->unchanged);
      break;
    case 11:
      if (name == "commit_time") return ReadOptionalString(r, &f->commit_time);
      break;
    default:
      break;
  }
  return r.SkipScalar();
}

}  // namespace

bool ReadSluiceLine(std::string_view text, SluiceFields* out) {
  *out = SluiceFields();
  Reader r(text);
  if (!r.Consume('{') || r.Consume('}')) return false;
  std::string name;
  do {
    if (!r.ReadString(&name) || !r.Consume(':') || !ReadField(r, name, out)) return false;
  } while (r.Consume(','));
  return r.Consume('}') && r.AtEnd();
}

}  // namespace sluice::kafka
