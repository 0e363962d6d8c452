#include "connectors/postgres/type_map.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <string>
#include <utility>

#include "util/base64.h"
#include "util/json_writer.h"

namespace sluice::pg {
namespace {

constexpr uint32_t kBoxArrayOid = 1020;  // the one built-in array whose typdelim is ';'
constexpr int kMaxArrayDims = 6;         // PostgreSQL's MAXDIM

// {array type oid, element type oid} for every built-in array type (pg_type where
// typcategory = 'A', PostgreSQL 15), sorted by array oid.
struct ArrayType {
  uint32_t array_oid;
  uint32_t element_oid;
};
// clang-format off
constexpr ArrayType kArrayTypes[] = {
    {143, 142},   {199, 114},   {271, 5069},   // xml json xid8
    {629, 628},   {651, 650},   {719, 718},    // line cidr circle
    {775, 774},   {791, 790},   {1000, 16},    // macaddr8 money bool
    {1001, 17},   {1002, 18},   {1003, 19},    // bytea char name
    {1005, 21},   {1006, 22},   {1007, 23},    // int2 int2vector int4
    {1008, 24},   {1009, 25},   {1010, 27},    // regproc text tid
    {1011, 28},   {1012, 29},   {1013, 30},    // xid cid oidvector
    {1014, 1042}, {1015, 1043}, {1016, 20},    // bpchar varchar int8
    {1017, 600},  {1018, 601},  {1019, 602},   // point lseg path
    {1020, 603},  {1021, 700},  {1022, 701},   // box float4 float8
    {1027, 604},  {1028, 26},   {1034, 1033},  // polygon oid aclitem
    {1040, 829},  {1041, 869},  {1115, 1114},  // macaddr inet timestamp
    {1182, 1082}, {1183, 1083}, {1185, 1184},  // date time timestamptz
    {1187, 1186}, {1231, 1700}, {1263, 2275},  // interval numeric cstring
    {1270, 1266}, {1561, 1560}, {1563, 1562},  // timetz bit varbit
    {2201, 1790}, {2207, 2202}, {2208, 2203},  // refcursor regprocedure regoper
    {2209, 2204}, {2210, 2205}, {2211, 2206},  // regoperator regclass regtype
    {2949, 2970}, {2951, 2950}, {3221, 3220},  // txid_snapshot uuid pg_lsn
    {3643, 3614}, {3644, 3642}, {3645, 3615},  // tsvector gtsvector tsquery
    {3735, 3734}, {3770, 3769}, {3807, 3802},  // regconfig regdictionary jsonb
    {3905, 3904}, {3907, 3906}, {3909, 3908},  // int4range numrange tsrange
    {3911, 3910}, {3913, 3912}, {3927, 3926},  // tstzrange daterange int8range
    {4073, 4072}, {4090, 4089}, {4097, 4096},  // jsonpath regnamespace regrole
    {4192, 4191}, {5039, 5038}, {6150, 4451},  // regcollation pg_snapshot int4multirange
    {6151, 4532}, {6152, 4533}, {6153, 4534},  // nummultirange tsmultirange tstzmultirange
    {6155, 4535}, {6157, 4536},                // datemultirange int8multirange
};
// clang-format on

Value AsString(std::string_view text) { return Value::Of(ValueKind::kString, std::string(text)); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// JSON integer: -?(0|[1-9][0-9]*)
bool IsJsonInteger(std::string_view s) {
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i == s.size()) return false;
  if (s[i] == '0') return s.size() == i + 1;
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

// JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0, n = s.size();
  auto digits = [&] {
    size_t start = i;
    while (i < n && IsDigit(s[i])) ++i;
    return i > start;
  };
  if (i < n && s[i] == '-') ++i;
  if (i < n && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == n;
}

bool IsNonFiniteFloat(std::string_view s) {
  return s == "NaN" || s == "Infinity" || s == "-Infinity";
}

Value ConvertBool(std::string_view text) {
  if (text == "t" || text == "true") return Value::Of(ValueKind::kBool, "true");
  if (text == "f" || text == "false") return Value::Of(ValueKind::kBool, "false");
  return AsString(text);
}

Value ConvertFloat(std::string_view text) {
  if (IsNonFiniteFloat(text) || IsJsonNumber(text)) {
    return Value::Of(ValueKind::kFloat, std::string(text));
  }
  return AsString(text);
}

// json keeps its input text, line breaks included; a JSON-lines consumer (the stdout sink,
// Elasticsearch's _bulk) would split the document there. PostgreSQL refuses a raw control
// character inside a JSON string, so a line break is always whitespace between tokens and a
// space means the same.
Value ConvertJson(std::string_view text) {
  std::string out(text);
  for (size_t i = out.find_first_of("\n\r"); i != std::string::npos;
       i = out.find_first_of("\n\r", i + 1)) {
    out[i] = ' ';
  }
  return Value::Of(ValueKind::kJson, std::move(out));
}

// --- bytea --------------------------------------------------------------------------------

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "\x0aff..." -> base64, decoding in stack-sized chunks (a multiple of 3 bytes, so no
// padding lands mid-stream). False on odd length or a non-hex digit.
bool HexByteaToBase64(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  out->reserve((hex.size() / 2 + 2) / 3 * 4);
  unsigned char chunk[3 * 256];
  size_t filled = 0;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]), lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    chunk[filled++] = static_cast<unsigned char>(hi << 4 | lo);
    if (filled == sizeof(chunk)) {
      AppendBase64(chunk, filled, out);
      filled = 0;
    }
  }
  AppendBase64(chunk, filled, out);
  return true;
}

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

// bytea_output=escape form: "\\" is a backslash, "\ooo" an octal byte, the rest literal.
bool EscapeByteaToBase64(std::string_view text, std::string* out) {
  std::string bytes;
  bytes.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      bytes.push_back(text[i]);
    } else if (i + 1 < text.size() && text[i + 1] == '\\') {
      bytes.push_back('\\');
      i += 1;
    } else if (i + 3 < text.size() && IsOctal(text[i + 1]) && IsOctal(text[i + 2]) &&
               IsOctal(text[i + 3])) {
      bytes.push_back(static_cast<char>((text[i + 1] - '0') << 6 | (text[i + 2] - '0') << 3 |
                                        (text[i + 3] - '0')));
      i += 3;
    } else {
      return false;
    }
  }
  AppendBase64(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), out);
  return true;
}

Value ConvertBytea(std::string_view text) {
  std::string out;
  bool ok = text.substr(0, 2) == "\\x" ? HexByteaToBase64(text.substr(2), &out)
                                       : EscapeByteaToBase64(text, &out);
  if (!ok) return AsString(text);
  return Value::Of(ValueKind::kString, std::move(out));
}

// --- dates and times -----------------------------------------------------------------------

enum class DateTimeKind { kDate, kTimestamp, kTimestamptz };

// "YYYY-MM-DD"; for BC dates the year becomes ISO 8601's astronomical year (1 BC = 0000,
// 2 BC = -0001). False if the year is not digits.
bool AppendIsoDate(std::string_view date, bool bc, std::string* out) {
  if (!bc) {
    out->append(date);
    return true;
  }
  size_t dash = date.find('-');
  int64_t year = 0;
  auto [ptr, ec] = std::from_chars(date.data(), date.data() + std::min(dash, date.size()), year);
  if (ec != std::errc() || dash == std::string_view::npos || ptr != date.data() + dash ||
      year < 1) {
    return false;
  }
  int64_t astro = year - 1;
  if (astro != 0) out->push_back('-');
  char digits[24];
  auto res = std::to_chars(digits, digits + sizeof(digits), astro);
  size_t len = static_cast<size_t>(res.ptr - digits);
  if (len < 4) out->append(4 - len, '0');
  out->append(digits, len);
  out->append(date.substr(dash));
  return true;
}

// Appends a UTC offset "+HH[:MM[:SS]]" as ISO 8601: zero -> "Z", "+05" -> "+05:00", other
// forms as given.
void AppendIsoOffset(std::string_view offset, std::string* out) {
  bool zero =
      std::all_of(offset.begin() + 1, offset.end(), [](char c) { return c == '0' || c == ':'; });
  if (zero) {
    out->push_back('Z');
    return;
  }
  out->append(offset);
  if (offset.size() == 3) out->append(":00");
}

// "HH:MM:SS[.f]+HH[:MM[:SS]]" -> the time, then the ISO offset. False if no sign found.
bool AppendTimeWithOffset(std::string_view time, std::string* out) {
  size_t sign = time.find_first_of("+-");
  if (sign == std::string_view::npos || sign == 0 || sign + 1 == time.size()) return false;
  out->append(time.substr(0, sign));
  AppendIsoOffset(time.substr(sign), out);
  return true;
}

// DateStyle=ISO output: "2026-11-24", "2026-11-24 10:00:00.5", "2026-11-24 10:00:00.5+00",
// each optionally followed by " BC"; or "infinity" / "-infinity".
Value ConvertDateTime(DateTimeKind kind, std::string_view text) {
  if (text == "infinity" || text == "-infinity") return AsString(text);
  std::string_view body = text;
  bool bc = body.size() > 3 && body.substr(body.size() - 3) == " BC";
  if (bc) body.remove_suffix(3);
  std::string out;
  out.reserve(text.size() + 4);
  bool ok = true;
  if (kind == DateTimeKind::kDate) {
    ok = AppendIsoDate(body, bc, &out);
  } else {
    size_t space = body.find(' ');
    ok = space != std::string_view::npos && AppendIsoDate(body.substr(0, space), bc, &out);
    if (ok) {
      out.push_back('T');
      std::string_view time = body.substr(space + 1);
      if (kind == DateTimeKind::kTimestamptz) {
        ok = AppendTimeWithOffset(time, &out);
      } else {
        out.append(time);
      }
    }
  }
  if (!ok) return AsString(text);
  return Value::Of(ValueKind::kString, std::move(out));
}

Value ConvertTimetz(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 3);
  if (!AppendTimeWithOffset(text, &out)) return AsString(text);
  return Value::Of(ValueKind::kString, std::move(out));
}

// --- arrays -------------------------------------------------------------------------------

// Appends a Value as JSON the way JsonWriter::Value renders it.
void AppendValueJson(const Value& v, std::string* out) {
  switch (v.kind) {
    case ValueKind::kNull:
    case ValueKind::kUnchanged:
      out->append("null");
      return;
    case ValueKind::kBool:
    case ValueKind::kInt:
    case ValueKind::kJson:
      out->append(v.text);
      return;
    case ValueKind::kFloat:
      if (!IsNonFiniteFloat(v.text)) {
        out->append(v.text);
        return;
      }
      break;
    case ValueKind::kNumeric:
    case ValueKind::kString:
      break;
  }
  out->push_back('"');
  AppendJsonEscaped(out, v.text);
  out->push_back('"');
}

// One array element (already unquoted and unescaped) as JSON. The common element types
// skip building a Value.
void AppendElementJson(uint32_t element_oid, std::string_view text, std::string* out) {
  switch (element_oid) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid:
      if (IsJsonInteger(text)) {
        out->append(text);
        return;
      }
      break;
    case kBoolOid:
    case kFloat4Oid:
    case kFloat8Oid:
    case kJsonOid:
    case kJsonbOid:
    case kByteaOid:
    case kDateOid:
    case kTimestampOid:
    case kTimestamptzOid:
    case kTimetzOid:
      AppendValueJson(ConvertText(element_oid, text), out);
      return;
    default:
      break;
  }
  out->push_back('"');
  AppendJsonEscaped(out, text);
  out->push_back('"');
}

// Recursive-descent parser for array_out's text: braces per dimension, `delimiter`
// between items, elements quoted with backslash escapes when they need it, NULL bare.
class ArrayParser {
 public:
  ArrayParser(uint32_t element_oid, std::string_view text, char delimiter, std::string* out)
      : element_oid_(element_oid), s_(text), delimiter_(delimiter), out_(out) {}

  bool Parse() {
    if (pos_ < s_.size() && s_[pos_] == '[') {  // explicit bounds: "[0:1][1:2]="
      size_t eq = s_.find('=');
      if (eq == std::string_view::npos) return false;
      pos_ = eq + 1;
    }
    SkipSpace();
    if (!ParseLevel(1)) return false;
    SkipSpace();
    return pos_ == s_.size();
  }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  void SkipSpace() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
  }
  bool At(char c) const { return pos_ < s_.size() && s_[pos_] == c; }

  // At '{': one dimension, through its '}'.
  bool ParseLevel(int depth) {
    if (!At('{') || depth > kMaxArrayDims) return false;
    ++pos_;
    out_->push_back('[');
    SkipSpace();
    if (At('}')) {
      ++pos_;
      out_->push_back(']');
      return true;
    }
    while (true) {
      SkipSpace();
      if (!(At('{') ? ParseLevel(depth + 1) : ParseElement())) return false;
      SkipSpace();
      if (At(delimiter_)) {
        ++pos_;
        out_->push_back(',');
      } else if (At('}')) {
        ++pos_;
        out_->push_back(']');
        return true;
      } else {
        return false;
      }
    }
  }

  bool ParseElement() {
    bool quoted = At('"');
    if (quoted) ++pos_;
    size_t start = pos_;
    size_t escaped_end = start;  // just past the last escaped character
    bool escaped = false;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '\\') {
        escaped = true;
        pos_ += 2;
        escaped_end = pos_;
        continue;
      }
      if (quoted ? c == '"' : (c == delimiter_ || c == '}' || c == '{' || c == '"')) break;
      ++pos_;
    }
    if (pos_ >= s_.size()) return false;  // unterminated (or a trailing backslash)
    std::string_view raw = s_.substr(start, pos_ - start);
    if (quoted) {
      ++pos_;  // closing quote
    } else {
      // Trailing whitespace is not part of an unquoted element, unless escaped.
      while (start + raw.size() > escaped_end && IsSpace(raw.back())) raw.remove_suffix(1);
      if (raw.empty() || s_[pos_] == '{' || s_[pos_] == '"') return false;
      if (!escaped && raw.size() == 4 && (raw[0] | 0x20) == 'n' && (raw[1] | 0x20) == 'u' &&
          (raw[2] | 0x20) == 'l' && (raw[3] | 0x20) == 'l') {
        out_->append("null");
        return true;
      }
    }
    if (escaped) {
      element_.clear();
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\') ++i;
        element_.push_back(raw[i]);
      }
      raw = element_;
    }
    AppendElementJson(element_oid_, raw, out_);
    return true;
  }

  uint32_t element_oid_;
  std::string_view s_;
  char delimiter_;
  std::string* out_;
  size_t pos_ = 0;
  std::string element_;  // unescaped element, reused
};

}  // namespace

uint32_t ArrayElementType(uint32_t array_oid) {
  auto it = std::lower_bound(std::begin(kArrayTypes), std::end(kArrayTypes), array_oid,
                             [](const ArrayType& t, uint32_t oid) { return t.array_oid < oid; });
  return it != std::end(kArrayTypes) && it->array_oid == array_oid ? it->element_oid : 0;
}

Value ConvertArrayText(uint32_t element_oid, std::string_view text, char delimiter) {
  std::string out;
  out.reserve(text.size() + 8);
  ArrayParser parser(element_oid, text, delimiter, &out);
  if (!parser.Parse()) return AsString(text);
  return Value::Of(ValueKind::kJson, std::move(out));
}

namespace {

// The UTC forms the session settings give ("2026-11-24 10:00:00[.f]" and, for timestamptz,
// "+00" after it) rewritten without a second pass: the space becomes 'T' and "+00" 'Z'.
// False for anything else (other years, BC, infinity, other offsets), which the general
// rules handle.
bool FastDateTime(bool tz, std::string_view text, std::string* out) {
  size_t end = text.size();
  if (tz) {
    if (end < 22 || text.substr(end - 3) != "+00") return false;
    end -= 3;
  } else if (end < 19) {
    return false;
  }
  if (text[4] != '-' || text[7] != '-' || text[10] != ' ' || text[13] != ':' || text[16] != ':') {
    return false;
  }
  // The fraction, if any: digits after a point ("BC" and offsets fail here).
  if (end > 19) {
    if (text[19] != '.') return false;
    for (size_t i = 20; i < end; ++i) {
      if (!IsDigit(text[i])) return false;
    }
  }
  out->assign(text.data(), end);
  (*out)[10] = 'T';
  if (tz) out->push_back('Z');
  return true;
}

// ConvertTextInto for the types without a fast rule below.
Value ConvertTextGeneral(uint32_t type_oid, std::string_view text) {
  switch (type_oid) {
    case kBoolOid:
      return ConvertBool(text);
    case kFloat4Oid:
    case kFloat8Oid:
      return ConvertFloat(text);
    case kJsonOid:
    case kJsonbOid:
      return ConvertJson(text);
    case kByteaOid:
      return ConvertBytea(text);
    case kDateOid:
      return ConvertDateTime(DateTimeKind::kDate, text);
    case kTimestampOid:
      return ConvertDateTime(DateTimeKind::kTimestamp, text);
    case kTimestamptzOid:
      return ConvertDateTime(DateTimeKind::kTimestamptz, text);
    case kTimetzOid:
      return ConvertTimetz(text);
    default:
      break;
  }
  if (uint32_t element = ArrayElementType(type_oid); element != 0) {
    return ConvertArrayText(element, text, type_oid == kBoxArrayOid ? ';' : ',');
  }
  return AsString(text);
}

void Assign(ValueKind kind, std::string_view text, Value* out) {
  out->kind = kind;
  out->text.assign(text);
}

}  // namespace

void ConvertTextInto(uint32_t type_oid, std::string_view text, Value* out) {
  // The common types write into out's own string, which keeps its buffer when a caller
  // reuses the Value; the rest build a new Value.
  switch (type_oid) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid:
      return Assign(IsJsonInteger(text) ? ValueKind::kInt : ValueKind::kString, text, out);
    case kNumericOid:
      return Assign(ValueKind::kNumeric, text, out);
    case kTextOid:
    case kVarcharOid:
    case kBpcharOid:
    case kUuidOid:
      return Assign(ValueKind::kString, text, out);
    case kTimestampOid:
    case kTimestamptzOid:
      if (FastDateTime(type_oid == kTimestamptzOid, text, &out->text)) {
        out->kind = ValueKind::kString;
        return;
      }
      break;
    default:
      break;
  }
  *out = ConvertTextGeneral(type_oid, text);
}

Value ConvertText(uint32_t type_oid, std::string_view text) {
  Value v;
  ConvertTextInto(type_oid, text, &v);
  return v;
}

}  // namespace sluice::pg
