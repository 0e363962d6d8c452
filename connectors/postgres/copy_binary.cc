#include "connectors/postgres/copy_binary.h"

#include <charconv>
#include <cstring>
#include <limits>

#include "connectors/postgres/type_map.h"
#include "connectors/postgres/wire.h"

namespace sluice::pg {
namespace {

constexpr uint32_t kNameOid = 19;

// Binary COPY's file header: signature, flags (int32), extension length (int32).
constexpr std::string_view kSignature{"PGCOPY\n\377\r\n\0", 11};

uint16_t Get16(const char* p) { return static_cast<uint16_t>(ReadBigEndian(p, 2)); }
uint32_t Get32(const char* p) { return static_cast<uint32_t>(ReadBigEndian(p, 4)); }
uint64_t Get64(const char* p) { return ReadBigEndian(p, 8); }

template <typename T>
void AppendNumber(std::string* out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// Writes `v` (0-99) as two digits at p.
char* Put2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

// Appends `v` (0-9999) as four digits.
void Append4(std::string* out, int v) {
  char buf[4];
  Put2(Put2(buf, v / 100), v % 100);
  out->append(buf, 4);
}

// numeric_send: ndigits, weight, sign, dscale (int16 each), then ndigits base-10000 digits.
// Written as numeric_out's get_str_from_var does.
bool NumericText(std::string_view b, std::string* out) {
  if (b.size() < 8) return false;
  const int ndigits = static_cast<int16_t>(Get16(b.data()));
  const int weight = static_cast<int16_t>(Get16(b.data() + 2));
  const uint16_t sign = Get16(b.data() + 4);
  const int dscale = static_cast<int16_t>(Get16(b.data() + 6));
  if (ndigits < 0 || dscale < 0 || b.size() != 8 + 2 * static_cast<size_t>(ndigits)) {
    return false;
  }
  switch (sign) {
    case 0xC000:
      out->assign("NaN");
      return true;
    case 0xD000:
      out->assign("Infinity");
      return true;
    case 0xF000:
      out->assign("-Infinity");
      return true;
    case 0x0000:
    case 0x4000:
      break;
    default:
      return false;
  }
  auto digit = [&](int i) -> int {
    if (i < 0 || i >= ndigits) return 0;
    return Get16(b.data() + 8 + 2 * i);
  };
  for (int i = 0; i < ndigits; ++i) {
    if (digit(i) > 9999) return false;
  }
  out->clear();
  if (sign == 0x4000) out->push_back('-');
  if (weight < 0) {
    out->push_back('0');
  } else {
    for (int d = 0; d <= weight; ++d) {
      if (d == 0) {
        AppendNumber(out, digit(d));
      } else {
        Append4(out, digit(d));
      }
    }
  }
  if (dscale > 0) {
    out->push_back('.');
    size_t end = out->size() + static_cast<size_t>(dscale);
    for (int d = weight + 1, written = 0; written < dscale; ++d, written += 4) {
      Append4(out, digit(d));
    }
    out->resize(end);
  }
  return true;
}

// Days since 2000-01-01 -> proleptic Gregorian year (astronomical: 0 is 1 BC), month, day.
void CivilFromDays(int64_t days, int64_t* y, int* m, int* d) {
  const int64_t z = days + 10957 + 719468;  // days since 0000-03-01
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

// "YYYY-MM-DD" (EncodeDateOnly, ISO); the year of a BC date counts from 1 BC, with the
// " BC" its caller appends last. Returns whether the date is BC. The last date written on
// this thread is kept: a table's dates and timestamps tend to come in runs of one day.
bool AppendDate(std::string* out, int64_t days) {
  struct Last {
    int64_t days = std::numeric_limits<int64_t>::min();
    char text[24];
    size_t size = 0;
    bool bc = false;
  };
  thread_local Last last;
  if (days != last.days) {
    int64_t y;
    int m, d;
    CivilFromDays(days, &y, &m, &d);
    const int64_t year = y > 0 ? y : 1 - y;
    char* p = last.text;
    if (year <= 9999) {
      p = Put2(Put2(p, static_cast<int>(year / 100)), static_cast<int>(year % 100));
    } else {
      p = std::to_chars(p, last.text + 12, year).ptr;
    }
    *p++ = '-';
    p = Put2(p, m);
    *p++ = '-';
    p = Put2(p, d);
    last.size = static_cast<size_t>(p - last.text);
    last.bc = y <= 0;
    last.days = days;
  }
  out->append(last.text, last.size);
  return last.bc;
}

bool DateText(std::string_view b, std::string* out) {
  if (b.size() != 4) return false;
  const auto days = static_cast<int32_t>(Get32(b.data()));
  if (days == std::numeric_limits<int32_t>::min()) {
    out->assign("-infinity");
  } else if (days == std::numeric_limits<int32_t>::max()) {
    out->assign("infinity");
  } else {
    out->clear();
    if (AppendDate(out, days)) out->append(" BC");
  }
  return true;
}

// Microseconds since 2000-01-01 00:00 -> "YYYY-MM-DD HH:MM:SS[.ffffff]" with the fraction's
// trailing zeros dropped, "+00" for timestamptz in UTC, " BC" last (EncodeDateTime, ISO).
// With *iso set, a date of years 1-9999 is written as ConvertTextInto rewrites that text
// ('T' between date and time, 'Z' for "+00"); *iso is cleared for the others.
bool TimestampText(std::string_view b, bool tz, bool* iso, std::string* out) {
  if (b.size() != 8) return false;
  const auto us = static_cast<int64_t>(Get64(b.data()));
  if (us == std::numeric_limits<int64_t>::min() || us == std::numeric_limits<int64_t>::max()) {
    out->assign(us < 0 ? "-infinity" : "infinity");
    if (iso) *iso = false;
    return true;
  }
  constexpr int64_t kDay = 86'400'000'000;
  int64_t days = us / kDay;
  int64_t time = us % kDay;
  if (time < 0) {
    time += kDay;
    --days;
  }
  out->clear();
  const bool bc = AppendDate(out, days);
  const bool fast = iso && *iso && !bc && out->size() == 10;
  if (iso) *iso = fast;
  const auto seconds = static_cast<int>(time / 1'000'000);
  char buf[16];
  char* p = buf;
  *p++ = fast ? 'T' : ' ';
  p = Put2(p, seconds / 3600);
  *p++ = ':';
  p = Put2(p, seconds / 60 % 60);
  *p++ = ':';
  p = Put2(p, seconds % 60);
  if (auto frac = static_cast<int>(time % 1'000'000); frac != 0) {
    *p++ = '.';
    p = Put2(Put2(Put2(p, frac / 10000), frac / 100 % 100), frac % 100);
    while (p[-1] == '0') --p;
  }
  out->append(buf, p);
  if (tz) out->append(fast ? "Z" : "+00");
  if (bc) out->append(" BC");
  return true;
}

// int2send, int4send, oidsend, int8send: the integer big-endian, in sizeof(Int) bytes.
template <typename Int>
bool IntegerText(std::string_view b, std::string* out) {
  if (b.size() != sizeof(Int)) return false;
  out->clear();
  AppendNumber(out, static_cast<Int>(ReadBigEndian(b.data(), sizeof(Int))));
  return true;
}

constexpr char kHex[] = "0123456789abcdef";

void AppendHex(std::string* out, std::string_view bytes) {
  for (char c : bytes) {
    auto u = static_cast<uint8_t>(c);
    out->push_back(kHex[u >> 4]);
    out->push_back(kHex[u & 15]);
  }
}

bool UuidText(std::string_view b, std::string* out) {
  if (b.size() != 16) return false;
  out->clear();
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out->push_back('-');
    AppendHex(out, b.substr(i, 1));
  }
  return true;
}

}  // namespace

BinaryReading BinaryReadingOf(uint32_t type_oid) {
  switch (type_oid) {
    case kFloat4Oid:
    case kFloat8Oid:
      return BinaryReading::kAsText;
    case kBoolOid:
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid:
    case kNumericOid:
    case kTextOid:
    case kVarcharOid:
    case kBpcharOid:
    case kNameOid:
    case kJsonOid:
    case kJsonbOid:
    case kByteaOid:
    case kUuidOid:
    case kDateOid:
    case kTimestampOid:
    case kTimestamptzOid:
      return BinaryReading::kSendForm;
    default:
      return BinaryReading::kNone;
  }
}

bool BinaryFieldText(uint32_t type_oid, std::string_view b, std::string* scratch,
                     std::string_view* text) {
  bool ok = true;
  switch (type_oid) {
    case kTextOid:
    case kVarcharOid:
    case kBpcharOid:
    case kNameOid:
    case kJsonOid:
    case kFloat4Oid:  // selected as text
    case kFloat8Oid:
      *text = b;
      return true;
    case kJsonbOid:  // a version byte (1), then the text
      if (b.empty() || b[0] != 1) return false;
      *text = b.substr(1);
      return true;
    case kBoolOid:
      if (b.size() != 1) return false;
      *text = b[0] != 0 ? "t" : "f";
      return true;
    case kInt2Oid:
      ok = IntegerText<int16_t>(b, scratch);
      break;
    case kInt4Oid:
      ok = IntegerText<int32_t>(b, scratch);
      break;
    case kOidOid:
      ok = IntegerText<uint32_t>(b, scratch);
      break;
    case kInt8Oid:
      ok = IntegerText<int64_t>(b, scratch);
      break;
    case kNumericOid:
      ok = NumericText(b, scratch);
      break;
    case kByteaOid:
      scratch->assign("\\x");
      AppendHex(scratch, b);
      break;
    case kUuidOid:
      ok = UuidText(b, scratch);
      break;
    case kDateOid:
      ok = DateText(b, scratch);
      break;
    case kTimestampOid:
    case kTimestamptzOid:
      ok = TimestampText(b, type_oid == kTimestamptzOid, nullptr, scratch);
      break;
    default:
      return false;
  }
  if (!ok) return false;
  *text = *scratch;
  return true;
}

bool BinaryFieldInto(uint32_t type_oid, std::string_view b, std::string* scratch, Value* out) {
  // The common types are written straight into out's own string (keeping its buffer), in
  // the form ConvertTextInto gives their text; the rest go through their text.
  switch (type_oid) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
    case kOidOid: {
      std::string_view text;
      if (!BinaryFieldText(type_oid, b, scratch, &text)) return false;
      out->kind = ValueKind::kInt;
      out->text.assign(text);
      return true;
    }
    case kTextOid:
    case kVarcharOid:
    case kBpcharOid:
      out->kind = ValueKind::kString;
      out->text.assign(b);
      return true;
    case kNumericOid:
      out->kind = ValueKind::kNumeric;
      return NumericText(b, &out->text);
    case kUuidOid:
      out->kind = ValueKind::kString;
      return UuidText(b, &out->text);
    case kTimestampOid:
    case kTimestamptzOid: {
      bool iso = true;
      if (!TimestampText(b, type_oid == kTimestamptzOid, &iso, &out->text)) return false;
      if (iso) {
        out->kind = ValueKind::kString;
      } else {
        scratch->swap(out->text);
        ConvertTextInto(type_oid, *scratch, out);
      }
      return true;
    }
    default:
      break;
  }
  std::string_view text;
  if (!BinaryFieldText(type_oid, b, scratch, &text)) return false;
  ConvertTextInto(type_oid, text, out);
  return true;
}

bool CopyBinaryReader::Start(std::string_view message) {
  rest_ = message;
  fields_ = 0;
  malformed_ = false;
  if (rest_.substr(0, kSignature.size()) == kSignature) {
    if (rest_.size() < kSignature.size() + 8) {
      malformed_ = true;
      return false;
    }
    const uint32_t extension = Get32(rest_.data() + kSignature.size() + 4);
    const size_t header = kSignature.size() + 8 + extension;
    if (extension > rest_.size() || header > rest_.size()) {
      malformed_ = true;
      return false;
    }
    rest_.remove_prefix(header);
    if (rest_.empty()) return false;
  }
  if (rest_.size() < 2) {
    malformed_ = true;
    return false;
  }
  fields_ = static_cast<int16_t>(Get16(rest_.data()));
  rest_.remove_prefix(2);
  if (fields_ < 0) {  // the trailer: -1
    malformed_ = fields_ != -1 || !rest_.empty();
    fields_ = 0;
    return false;
  }
  return true;
}

bool CopyBinaryReader::Next(bool* null, std::string_view* bytes) {
  if (fields_ == 0) {
    if (!rest_.empty()) malformed_ = true;
    return false;
  }
  if (rest_.size() < 4) {
    malformed_ = true;
    return false;
  }
  const auto length = static_cast<int32_t>(Get32(rest_.data()));
  rest_.remove_prefix(4);
  --fields_;
  if (length < 0) {
    *null = true;
    *bytes = {};
    return true;
  }
  if (static_cast<size_t>(length) > rest_.size()) {
    malformed_ = true;
    fields_ = 0;
    return false;
  }
  *null = false;
  *bytes = rest_.substr(0, static_cast<size_t>(length));
  rest_.remove_prefix(static_cast<size_t>(length));
  return true;
}

}  // namespace sluice::pg
