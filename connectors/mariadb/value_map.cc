#include "connectors/mariadb/value_map.h"

#include <arpa/inet.h>
#include <iconv.h>
#include <mysql.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "util/base64.h"

namespace sluice::mariadb {

namespace {

std::string Base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  AppendBase64(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &out);
  return out;
}

template <typename T>
std::string Shortest(T v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// Text in the character set of `collation` -> UTF-8, by iconv under the encoding name
// Connector/C gives the charset (Connector/C's own mariadb_convert_string is built without
// iconv in Debian's package: it fails with EOPNOTSUPP). UTF-8 (utf8mb3, utf8mb4) and ASCII
// pass as they are.
Result<std::string> ToUtf8(std::string_view text, uint16_t collation) {
  const MARIADB_CHARSET_INFO* cs = mariadb_get_charset_by_nr(collation);
  if (cs == nullptr) {
    return Status::InvalidArgument("unknown collation id " + std::to_string(collation));
  }
  std::string_view name = cs->csname;
  if (name.starts_with("utf8") || name == "ascii" || text.empty()) return std::string(text);
  if (cs->encoding == nullptr || cs->encoding[0] == '\0') {
    return Status::InvalidArgument(std::string("no conversion from charset ") + cs->csname);
  }
  // MariaDB's UCS-2, UTF-16 and UTF-32 are big-endian; iconv's names without an order
  // would look for a byte order mark.
  std::string encoding = cs->encoding;
  if (name == "ucs2") encoding = "UCS-2BE";
  if (name == "utf16") encoding = "UTF-16BE";
  if (name == "utf32") encoding = "UTF-32BE";
  if (name == "utf16le") encoding = "UTF-16LE";
  iconv_t cd = iconv_open("UTF-8", encoding.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return Status::InvalidArgument(std::string("no conversion from charset ") + cs->csname + " (" +
                                   cs->encoding + ")");
  }
  std::string out(text.size() * 4 + 4, '\0');
  std::string in(text);
  char* from = in.data();
  size_t from_left = in.size();
  char* to = out.data();
  size_t to_left = out.size();
  size_t r = iconv(cd, &from, &from_left, &to, &to_left);
  iconv_close(cd);
  if (r == static_cast<size_t>(-1) || from_left != 0) {
    return Status::InvalidArgument(std::string("a value is not valid ") + cs->csname);
  }
  out.resize(out.size() - to_left);
  return out;
}

void Append2(std::string* out, uint32_t v) {
  char buf[16];
  int n = std::snprintf(buf, sizeof(buf), "%02u", v);
  out->append(buf, static_cast<size_t>(n));
}

void AppendDate(std::string* out, const Temporal& t) {
  char buf[32];
  int n = std::snprintf(buf, sizeof(buf), "%04u-%02u-%02u", t.year, t.month, t.day);
  out->append(buf, static_cast<size_t>(n));
}

// ".ffffff" cut to `fsp` digits (nothing for fsp 0).
void AppendFraction(std::string* out, uint32_t micros, int fsp) {
  if (fsp <= 0) return;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%06u", micros % 1000000);
  out->push_back('.');
  out->append(buf, static_cast<size_t>(fsp > 6 ? 6 : fsp));
}

void AppendHms(std::string* out, const Temporal& t, int fsp) {
  Append2(out, t.hour);
  out->push_back(':');
  Append2(out, t.minute);
  out->push_back(':');
  Append2(out, t.second);
  AppendFraction(out, t.micros, fsp);
}

// Days since 1970-01-01 -> the civil date (proleptic Gregorian; H. Hinnant's algorithm).
void CivilFromDays(int64_t z, Temporal* t) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<uint64_t>(z - era * 146097);
  uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  uint64_t mp = (5 * doy + 2) / 153;
  t->day = static_cast<uint32_t>(doy - (153 * mp + 2) / 5 + 1);
  t->month = static_cast<uint32_t>(mp < 10 ? mp + 3 : mp - 9);
  t->year = static_cast<uint32_t>(y + (t->month <= 2 ? 1 : 0));
}

std::string TimestampText(int64_t seconds, uint32_t micros, int fsp) {
  Temporal t;
  if (seconds != 0 || micros != 0) {  // 0 is MariaDB's zero timestamp 0000-00-00 00:00:00
    int64_t days = seconds / 86400;
    int64_t rest = seconds % 86400;
    CivilFromDays(days, &t);
    t.hour = static_cast<uint32_t>(rest / 3600);
    t.minute = static_cast<uint32_t>(rest / 60 % 60);
    t.second = static_cast<uint32_t>(rest % 60);
    t.micros = micros;
  }
  std::string out;
  AppendDate(&out, t);
  out.push_back('T');
  AppendHms(&out, t, fsp);
  out.push_back('Z');
  return out;
}

std::string TimeText(const Temporal& t, int fsp) {
  std::string out;
  if (t.negative) out.push_back('-');
  AppendHms(&out, t, fsp);
  return out;
}

// ENUM index / SET bits -> the member names, in the column's charset -> UTF-8.
Result<Value> MembersToValue(const Cell& cell, const Column& c) {
  std::string out;
  if (cell.kind == CellKind::kEnum) {
    if (cell.u > c.values.size()) {
      return Status::InvalidArgument("ENUM column " + c.name + ": index " + std::to_string(cell.u) +
                                     " beyond its " + std::to_string(c.values.size()) + " values");
    }
    if (cell.u > 0) out = c.values[cell.u - 1];
  } else {
    for (size_t i = 0; i < c.values.size() && i < 64; ++i) {
      if ((cell.u >> i) & 1) {
        if (!out.empty()) out.push_back(',');
        out += c.values[i];
      }
    }
  }
  if (c.collation != 0) {
    auto utf8 = ToUtf8(out, c.collation);
    if (!utf8.ok()) return utf8.status();
    out = std::move(utf8).value();
  }
  return Value::Of(ValueKind::kString, std::move(out));
}

// UUID, INET4, INET6 from their binary forms (logged without trailing zero bytes).
Result<Value> NetworkTypeText(ValueClass cls, std::string_view bytes, const Column& c) {
  size_t want = cls == ValueClass::kInet4 ? 4 : 16;
  std::string b(bytes);
  if (b.size() > want) {
    return Status::InvalidArgument("column " + c.name + ": " + std::to_string(b.size()) +
                                   " bytes where " + std::to_string(want) + " are expected");
  }
  b.resize(want, '\0');
  char buf[INET6_ADDRSTRLEN + 1];
  if (cls == ValueClass::kUuid) {
    std::string out;
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
      auto v = static_cast<uint8_t>(b[i]);
      out.push_back(kHex[v >> 4]);
      out.push_back(kHex[v & 15]);
    }
    return Value::Of(ValueKind::kString, std::move(out));
  }
  int family = cls == ValueClass::kInet4 ? AF_INET : AF_INET6;
  if (inet_ntop(family, b.data(), buf, sizeof(buf)) == nullptr) {
    return Status::InvalidArgument("column " + c.name + ": not an address");
  }
  return Value::Of(ValueKind::kString, buf);
}

template <typename T>
bool ParseNumber(std::string_view text, T* v) {
  auto r = std::from_chars(text.data(), text.data() + text.size(), *v);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

}  // namespace

ValueClass ClassOf(const Column& c) {
  switch (c.logical) {
    case Column::Logical::kUuid:
      return ValueClass::kUuid;
    case Column::Logical::kInet4:
      return ValueClass::kInet4;
    case Column::Logical::kInet6:
      return ValueClass::kInet6;
    case Column::Logical::kNone:
      break;
  }
  switch (c.type) {
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
    case kTypeYear:
      return ValueClass::kInt;
    case kTypeBit:
      return ValueClass::kBit;
    case kTypeNewDecimal:
      return ValueClass::kDecimal;
    case kTypeFloat:
      return ValueClass::kFloat;
    case kTypeDouble:
      return ValueClass::kDouble;
    case kTypeDate:
    case kTypeNewDate:
      return ValueClass::kDate;
    case kTypeTime:
    case kTypeTime2:
      return ValueClass::kTime;
    case kTypeDateTime:
    case kTypeDateTime2:
      return ValueClass::kDateTime;
    case kTypeTimestamp:
    case kTypeTimestamp2:
      return ValueClass::kTimestamp;
    case kTypeString:
    case kTypeEnum:
    case kTypeSet:
      if (c.real_type == kTypeEnum) return ValueClass::kEnum;
      if (c.real_type == kTypeSet) return ValueClass::kSet;
      [[fallthrough]];
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
      return c.collation == kBinaryCollation ? ValueClass::kBinary : ValueClass::kText;
    default:
      return ValueClass::kUnsupported;
  }
}

Result<Value> CellToValue(const Cell& cell, const Column& c) {
  switch (cell.kind) {
    case CellKind::kAbsent:
      return Value::Unchanged();
    case CellKind::kNull:
      return Value::Null();
    case CellKind::kInt:
      return Value::Of(ValueKind::kInt, std::to_string(cell.i));
    case CellKind::kUInt:
    case CellKind::kYear:
    case CellKind::kBit:
      return Value::Of(ValueKind::kInt, std::to_string(cell.u));
    case CellKind::kDecimal:
      return Value::Of(ValueKind::kNumeric, cell.text);
    case CellKind::kFloat:
      return Value::Of(ValueKind::kFloat, Shortest(static_cast<float>(cell.d)));
    case CellKind::kDouble:
      return Value::Of(ValueKind::kFloat, Shortest(cell.d));
    case CellKind::kBytes: {
      ValueClass cls = ClassOf(c);
      if (cls == ValueClass::kBinary) {
        // BINARY(n) is logged without its trailing zero bytes (its pad character).
        if (c.type == kTypeString && cell.bytes.size() < c.length) {
          std::string padded(cell.bytes);
          padded.resize(c.length, '\0');
          return Value::Of(ValueKind::kString, Base64(padded));
        }
        return Value::Of(ValueKind::kString, Base64(cell.bytes));
      }
      if (cls == ValueClass::kUuid || cls == ValueClass::kInet4 || cls == ValueClass::kInet6) {
        return NetworkTypeText(cls, cell.bytes, c);
      }
      auto utf8 = ToUtf8(cell.bytes, c.collation == 0 ? 45 : c.collation);
      if (!utf8.ok()) {
        return Status::InvalidArgument("column " + c.name + ": " + utf8.status().message());
      }
      return Value::Of(ValueKind::kString, std::move(utf8).value());
    }
    case CellKind::kDate: {
      std::string out;
      AppendDate(&out, cell.t);
      return Value::Of(ValueKind::kString, std::move(out));
    }
    case CellKind::kTime:
      return Value::Of(ValueKind::kString, TimeText(cell.t, c.fsp));
    case CellKind::kDateTime: {
      std::string out;
      AppendDate(&out, cell.t);
      out.push_back('T');
      AppendHms(&out, cell.t, c.fsp);
      return Value::Of(ValueKind::kString, std::move(out));
    }
    case CellKind::kTimestamp:
      return Value::Of(ValueKind::kString, TimestampText(cell.i, cell.t.micros, c.fsp));
    case CellKind::kEnum:
    case CellKind::kSet:
      return MembersToValue(cell, c);
    case CellKind::kMysqlJson:
      break;
  }
  return Status::InvalidArgument("column " + c.name + ": MySQL binary JSON is not decoded yet");
}

Value TextToValue(ValueClass cls, std::string_view text) {
  switch (cls) {
    case ValueClass::kInt: {
      int64_t i;
      uint64_t u;
      if (ParseNumber(text, &i)) return Value::Of(ValueKind::kInt, std::to_string(i));
      if (ParseNumber(text, &u)) return Value::Of(ValueKind::kInt, std::to_string(u));
      break;
    }
    case ValueClass::kBit: {
      uint64_t v = 0;
      for (char ch : text) v = (v << 8) | static_cast<uint8_t>(ch);
      return Value::Of(ValueKind::kInt, std::to_string(v));
    }
    case ValueClass::kDecimal:
      return Value::Of(ValueKind::kNumeric, std::string(text));
    case ValueClass::kFloat:
    case ValueClass::kDouble: {
      std::string s(text);
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (end != s.c_str() + s.size() || s.empty()) break;
      return Value::Of(ValueKind::kFloat,
                       cls == ValueClass::kFloat ? Shortest(static_cast<float>(d)) : Shortest(d));
    }
    case ValueClass::kBinary:
      return Value::Of(ValueKind::kString, Base64(text));
    case ValueClass::kDateTime:
    case ValueClass::kTimestamp: {
      std::string s(text);
      if (size_t sp = s.find(' '); sp != std::string::npos) s[sp] = 'T';
      if (cls == ValueClass::kTimestamp) s.push_back('Z');
      return Value::Of(ValueKind::kString, std::move(s));
    }
    default:
      break;
  }
  return Value::Of(ValueKind::kString, std::string(text));
}

}  // namespace sluice::mariadb
