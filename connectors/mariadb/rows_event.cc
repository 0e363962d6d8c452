#include "connectors/mariadb/rows_event.h"

#include <bit>
#include <cstring>

#include "connectors/mariadb/byte_reader.h"

namespace sluice::mariadb {

namespace {

// Bytes a group of 0..9 decimal digits takes (strings/decimal.c, dig2bytes).
constexpr int kDigitBytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
constexpr int kDigitsPerGroup = 9;

// The fractional seconds of the TIME2/DATETIME2/TIMESTAMP2 formats: (fsp + 1) / 2 bytes,
// big-endian, holding hundredths (fsp 1-2), ten-thousandths... scaled to microseconds.
uint32_t ReadFraction(ByteReader& r, int fsp) {
  switch ((fsp + 1) / 2) {
    case 1:
      return static_cast<uint32_t>(r.UintBE(1)) * 10000;
    case 2:
      return static_cast<uint32_t>(r.UintBE(2)) * 100;
    case 3:
      return static_cast<uint32_t>(r.UintBE(3));
    default:
      return 0;
  }
}

// TIME2: 3 bytes big-endian, offset by 0x800000, holding sign, hours (10 bits), minutes
// (6), seconds (6), then the fraction. A negative value with a fraction is stored as the
// whole part rounded towards minus infinity plus a positive fraction (the packed integer
// as a whole is negative), so it is undone on the packed value.
Temporal ReadTime2(ByteReader& r, int fsp) {
  constexpr int64_t kIntOffset = 0x800000;
  int frac_bytes = (fsp + 1) / 2;
  int64_t packed;  // hms << 24 | microseconds, signed
  if (frac_bytes == 3) {
    packed = static_cast<int64_t>(r.UintBE(6)) - (kIntOffset << 24);
  } else {
    int64_t intpart = static_cast<int64_t>(r.UintBE(3)) - kIntOffset;
    int64_t frac = 0;
    if (frac_bytes == 1) {
      frac = static_cast<int64_t>(r.UintBE(1));
      if (intpart < 0 && frac != 0) {
        intpart += 1;
        frac -= 0x100;
      }
      frac *= 10000;
    } else if (frac_bytes == 2) {
      frac = static_cast<int64_t>(r.UintBE(2));
      if (intpart < 0 && frac != 0) {
        intpart += 1;
        frac -= 0x10000;
      }
      frac *= 100;
    }
    packed = intpart * (int64_t{1} << 24) + frac;
  }
  Temporal t;
  t.negative = packed < 0;
  uint64_t v = static_cast<uint64_t>(t.negative ? -packed : packed);
  uint64_t hms = v >> 24;
  t.micros = static_cast<uint32_t>(v % (1 << 24));
  t.hour = static_cast<uint32_t>((hms >> 12) % (1 << 10));
  t.minute = static_cast<uint32_t>((hms >> 6) % (1 << 6));
  t.second = static_cast<uint32_t>(hms % (1 << 6));
  return t;
}

// DATETIME2: 5 bytes big-endian, offset by 0x8000000000: year*13+month (17 bits), day
// (5), hour (5), minute (6), second (6); then the fraction.
Temporal ReadDateTime2(ByteReader& r, int fsp) {
  uint64_t v = r.UintBE(5) - 0x8000000000ULL;
  Temporal t;
  uint64_t ymd = v >> 17;
  uint64_t ym = ymd >> 5;
  uint64_t hms = v % (1 << 17);
  t.year = static_cast<uint32_t>(ym / 13);
  t.month = static_cast<uint32_t>(ym % 13);
  t.day = static_cast<uint32_t>(ymd % (1 << 5));
  t.hour = static_cast<uint32_t>(hms >> 12);
  t.minute = static_cast<uint32_t>((hms >> 6) % (1 << 6));
  t.second = static_cast<uint32_t>(hms % (1 << 6));
  t.micros = ReadFraction(r, fsp);
  return t;
}

// DATE: 3 bytes little-endian: year (15 bits), month (4), day (5).
Temporal ReadDate(ByteReader& r) {
  auto v = static_cast<uint32_t>(r.Uint(3));
  Temporal t;
  t.day = v & 31;
  t.month = (v >> 5) & 15;
  t.year = v >> 9;
  return t;
}

// The old DATETIME: 8 bytes little-endian, the decimal digits YYYYMMDDhhmmss.
Temporal ReadOldDateTime(ByteReader& r) {
  uint64_t v = r.Uint(8);
  Temporal t;
  uint64_t date = v / 1000000, time = v % 1000000;
  t.year = static_cast<uint32_t>(date / 10000);
  t.month = static_cast<uint32_t>(date / 100 % 100);
  t.day = static_cast<uint32_t>(date % 100);
  t.hour = static_cast<uint32_t>(time / 10000);
  t.minute = static_cast<uint32_t>(time / 100 % 100);
  t.second = static_cast<uint32_t>(time % 100);
  return t;
}

// The old TIME: 3 bytes little-endian, signed, the decimal digits (-)HHMMSS.
Temporal ReadOldTime(ByteReader& r) {
  auto raw = static_cast<int32_t>(r.Uint(3));
  if (raw & 0x800000) raw -= 0x1000000;
  Temporal t;
  t.negative = raw < 0;
  uint32_t v = static_cast<uint32_t>(t.negative ? -raw : raw);
  t.hour = v / 10000;
  t.minute = v / 100 % 100;
  t.second = v % 100;
  return t;
}

int64_t SignExtend(uint64_t v, size_t bytes) {
  if (bytes >= 8) return static_cast<int64_t>(v);
  uint64_t sign = uint64_t{1} << (bytes * 8 - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

void ReadInteger(ByteReader& r, const Column& c, size_t bytes, Cell* cell) {
  uint64_t v = r.Uint(bytes);
  if (c.is_unsigned) {
    cell->kind = CellKind::kUInt;
    cell->u = v;
  } else {
    cell->kind = CellKind::kInt;
    cell->i = SignExtend(v, bytes);
  }
}

// A value with a length prefix of `prefix` bytes.
void ReadPrefixed(ByteReader& r, size_t prefix, CellKind kind, Cell* cell) {
  cell->kind = kind;
  cell->bytes = r.Bytes(static_cast<size_t>(r.Uint(prefix)));
}

Status Unsupported(const TableMap& map, const Column& c) {
  return Status::InvalidArgument("table " + map.database + "." + map.table + " column " +
                                 (c.name.empty() ? "?" : c.name) + ": binlog column type " +
                                 std::to_string(c.type) + " is not supported");
}

Status ReadCell(ByteReader& r, const TableMap& map, const Column& c, Cell* cell) {
  switch (c.type) {
    case kTypeTiny:
      ReadInteger(r, c, 1, cell);
      break;
    case kTypeShort:
      ReadInteger(r, c, 2, cell);
      break;
    case kTypeInt24:
      ReadInteger(r, c, 3, cell);
      break;
    case kTypeLong:
      ReadInteger(r, c, 4, cell);
      break;
    case kTypeLongLong:
      ReadInteger(r, c, 8, cell);
      break;
    case kTypeFloat: {
      cell->kind = CellKind::kFloat;
      cell->d = std::bit_cast<float>(static_cast<uint32_t>(r.Uint(4)));
      break;
    }
    case kTypeDouble:
      cell->kind = CellKind::kDouble;
      cell->d = std::bit_cast<double>(r.Uint(8));
      break;
    case kTypeYear: {
      cell->kind = CellKind::kYear;
      uint64_t v = r.Uint(1);
      cell->u = v == 0 ? 0 : 1900 + v;
      break;
    }
    case kTypeDate:
    case kTypeNewDate:
      cell->kind = CellKind::kDate;
      cell->t = ReadDate(r);
      break;
    case kTypeTime:
      cell->kind = CellKind::kTime;
      cell->t = ReadOldTime(r);
      break;
    case kTypeTime2:
      cell->kind = CellKind::kTime;
      cell->t = ReadTime2(r, c.fsp);
      break;
    case kTypeDateTime:
      cell->kind = CellKind::kDateTime;
      cell->t = ReadOldDateTime(r);
      break;
    case kTypeDateTime2:
      cell->kind = CellKind::kDateTime;
      cell->t = ReadDateTime2(r, c.fsp);
      break;
    case kTypeTimestamp:
      cell->kind = CellKind::kTimestamp;
      cell->i = static_cast<int64_t>(r.Uint(4));
      break;
    case kTypeTimestamp2:
      cell->kind = CellKind::kTimestamp;
      cell->i = static_cast<int64_t>(r.UintBE(4));
      cell->t.micros = ReadFraction(r, c.fsp);
      break;
    case kTypeNewDecimal: {
      cell->kind = CellKind::kDecimal;
      std::string_view b = r.Bytes(DecimalSize(c.precision, c.scale));
      if (r.ok() && !DecodeDecimal(b, c.precision, c.scale, &cell->text)) {
        return Status::DataLoss("bad DECIMAL value");
      }
      break;
    }
    case kTypeVarchar:
    case kTypeVarString:
      ReadPrefixed(r, c.length > 255 ? 2 : 1, CellKind::kBytes, cell);
      break;
    case kTypeString:
    case kTypeEnum:
    case kTypeSet:
      if (c.real_type == kTypeEnum) {
        cell->kind = CellKind::kEnum;
        cell->u = r.Uint(c.length);
      } else if (c.real_type == kTypeSet) {
        cell->kind = CellKind::kSet;
        cell->u = r.Uint(c.length);
      } else {
        ReadPrefixed(r, c.length > 255 ? 2 : 1, CellKind::kBytes, cell);
      }
      break;
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeGeometry:
      ReadPrefixed(r, c.length, CellKind::kBytes, cell);
      break;
    case kTypeJson:
      ReadPrefixed(r, c.length, CellKind::kMysqlJson, cell);
      break;
    case kTypeBit: {
      cell->kind = CellKind::kBit;
      cell->u = r.UintBE((c.bits + 7) / 8);
      break;
    }
    case kTypeNull:
      cell->kind = CellKind::kNull;
      break;
    default:
      return Unsupported(map, c);
  }
  if (!r.ok()) {
    return Status::DataLoss("rows event of " + map.database + "." + map.table +
                            ": truncated in column " + c.name);
  }
  return Status::Ok();
}

bool Bit(std::string_view bitmap, size_t i) {
  return (static_cast<uint8_t>(bitmap[i / 8]) >> (i % 8)) & 1;
}

// One image: a NULL bitmap over the columns `present` holds, then their non-NULL values.
Status ReadImage(ByteReader& r, const TableMap& map, std::string_view present,
                 std::vector<Cell>* cells) {
  size_t n = map.columns.size();
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) count += Bit(present, i) ? 1 : 0;
  std::string_view nulls = r.Bytes((count + 7) / 8);
  if (!r.ok()) return Status::DataLoss("rows event of " + map.table + ": truncated NULL bitmap");
  cells->assign(n, Cell{});
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    Cell& cell = (*cells)[i];
    if (!Bit(present, i)) {
      cell.kind = CellKind::kAbsent;
      continue;
    }
    bool null = Bit(nulls, k++);
    if (null) {
      cell.kind = CellKind::kNull;
      continue;
    }
    SLUICE_RETURN_IF_ERROR(ReadCell(r, map, map.columns[i], &cell));
  }
  return Status::Ok();
}

}  // namespace

size_t DecimalSize(int precision, int scale) {
  int intg = precision - scale;
  int bytes = (intg / kDigitsPerGroup) * 4 + kDigitBytes[intg % kDigitsPerGroup] +
              (scale / kDigitsPerGroup) * 4 + kDigitBytes[scale % kDigitsPerGroup];
  return static_cast<size_t>(bytes);
}

// The packed DECIMAL (strings/decimal.c, decimal2bin): the integer digits, then the
// fraction digits, each in big-endian groups of 9 digits in 4 bytes, with a shorter group
// for the leftover digits (at the front of the integer part, at the end of the fraction).
// The first byte's top bit is flipped, and a negative value has every byte inverted.
bool DecodeDecimal(std::string_view bytes, int precision, int scale, std::string* out) {
  if (precision < 1 || scale < 0 || scale > precision ||
      bytes.size() != DecimalSize(precision, scale)) {
    return false;
  }
  std::string b(bytes);
  bool negative = (static_cast<uint8_t>(b[0]) & 0x80) == 0;
  b[0] = static_cast<char>(static_cast<uint8_t>(b[0]) ^ 0x80);
  if (negative) {
    for (char& c : b) c = static_cast<char>(~static_cast<uint8_t>(c));
  }
  ByteReader r(b);
  int intg = precision - scale;
  std::string digits;  // integer digits, leading zeros stripped below
  auto group = [&](int ndigits, std::string* to, bool pad) {
    uint64_t v = r.UintBE(static_cast<size_t>(kDigitBytes[ndigits]));
    std::string s = std::to_string(v);
    if (pad && s.size() < static_cast<size_t>(ndigits)) s.insert(0, ndigits - s.size(), '0');
    to->append(s);
  };
  if (intg % kDigitsPerGroup) group(intg % kDigitsPerGroup, &digits, true);
  for (int i = 0; i < intg / kDigitsPerGroup; ++i) group(kDigitsPerGroup, &digits, true);
  std::string fraction;
  for (int i = 0; i < scale / kDigitsPerGroup; ++i) group(kDigitsPerGroup, &fraction, true);
  if (scale % kDigitsPerGroup) group(scale % kDigitsPerGroup, &fraction, true);
  if (!r.ok() || digits.size() != static_cast<size_t>(intg) ||
      fraction.size() != static_cast<size_t>(scale)) {
    return false;  // a group held more digits than it may
  }
  size_t first = digits.find_first_not_of('0');
  digits = first == std::string::npos ? "0" : digits.substr(first);
  bool zero = digits == "0" && fraction.find_first_not_of('0') == std::string::npos;
  out->clear();
  if (negative && !zero) out->push_back('-');
  out->append(digits);
  if (scale > 0) {
    out->push_back('.');
    out->append(fraction);
  }
  return true;
}

Status DecodeRows(const RowsEvent& event, const TableMap& map, std::vector<RowChange>* out) {
  ByteReader r(event.body);
  uint64_t n = r.Packed();
  if (!r.ok() || n != map.columns.size()) {
    return Status::DataLoss("rows event of " + map.database + "." + map.table + " has " +
                            std::to_string(n) + " columns, its table map " +
                            std::to_string(map.columns.size()));
  }
  size_t bitmap = (map.columns.size() + 7) / 8;
  std::string_view before_cols = r.Bytes(bitmap);
  std::string_view after_cols =
      event.kind == RowsEvent::Kind::kUpdate ? r.Bytes(bitmap) : before_cols;
  if (!r.ok()) return Status::DataLoss("rows event of " + map.table + ": truncated bitmaps");
  while (r.left() > 0) {
    RowChange row;
    switch (event.kind) {
      case RowsEvent::Kind::kWrite:
        SLUICE_RETURN_IF_ERROR(ReadImage(r, map, after_cols, &row.after));
        break;
      case RowsEvent::Kind::kDelete:
        SLUICE_RETURN_IF_ERROR(ReadImage(r, map, before_cols, &row.before));
        break;
      case RowsEvent::Kind::kUpdate:
        SLUICE_RETURN_IF_ERROR(ReadImage(r, map, before_cols, &row.before));
        SLUICE_RETURN_IF_ERROR(ReadImage(r, map, after_cols, &row.after));
        break;
    }
    out->push_back(std::move(row));
  }
  return Status::Ok();
}

}  // namespace sluice::mariadb
