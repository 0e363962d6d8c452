#include "connectors/mariadb/table_map.h"

#include "connectors/mariadb/byte_reader.h"

namespace sluice::mariadb {

// Optional metadata field types (MySQL 8 and MariaDB 10.5+, binlog_row_metadata).
namespace {
enum MetadataField : uint8_t {
  kSignedness = 1,
  kDefaultCharset = 2,
  kColumnCharset = 3,
  kColumnName = 4,
  kSetValues = 5,
  kEnumValues = 6,
  kGeometryType = 7,
  kSimplePrimaryKey = 8,
  kPrimaryKeyWithPrefix = 9,
  kEnumAndSetDefaultCharset = 10,
  kEnumAndSetColumnCharset = 11,
  kColumnVisibility = 12,  // MySQL 8.0.23+
};
}  // namespace

bool Column::is_character() const {
  switch (type) {
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
      return true;
    case kTypeString:
      return !is_enum_or_set();
    default:
      return false;
  }
}

bool Column::is_numeric() const {
  switch (type) {
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
    case kTypeYear:  // MariaDB gives YEAR a signedness bit (checked against 10.11)
    case kTypeFloat:
    case kTypeDouble:
    case kTypeNewDecimal:
    case kTypeDecimal:
      return true;
    default:
      return false;
  }
}

namespace {

// Reads the type metadata of `c` (0, 1 or 2 bytes by type) from the metadata block.
void ReadTypeMetadata(ByteReader& r, Column* c) {
  c->real_type = c->type;
  switch (c->type) {
    case kTypeFloat:
    case kTypeDouble:
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeGeometry:
    case kTypeJson:
      c->length = r.U8();  // pack length, or bytes of the length prefix
      break;
    case kTypeTimestamp2:
    case kTypeDateTime2:
    case kTypeTime2:
      c->fsp = r.U8();
      break;
    case kTypeVarchar:
    case kTypeVarString:
      c->length = static_cast<uint32_t>(r.Uint(2));
      break;
    case kTypeBit: {
      uint8_t bits = r.U8();
      uint8_t bytes = r.U8();
      c->bits = static_cast<uint16_t>(bytes * 8 + bits);
      break;
    }
    case kTypeNewDecimal:
    case kTypeDecimal:
      c->precision = r.U8();
      c->scale = r.U8();
      break;
    case kTypeString:
    case kTypeEnum:
    case kTypeSet: {
      uint8_t b0 = r.U8();
      uint8_t b1 = r.U8();
      // CHAR lengths above 255 borrow two bits of the real-type byte (sql/field.cc,
      // Field_string::save_field_metadata): they are stored inverted in bits 4 and 5.
      if ((b0 & 0x30) != 0x30) {
        c->real_type = static_cast<ColumnType>(b0 | 0x30);
        c->length = b1 | (static_cast<uint32_t>((b0 & 0x30) ^ 0x30) << 4);
      } else {
        c->real_type = static_cast<ColumnType>(b0);
        c->length = b1;  // for ENUM and SET: the bytes of a value
      }
      break;
    }
    default:
      break;
  }
}

// Bit i of a most-significant-first bitmap.
bool BitMsb(std::string_view bitmap, size_t i) {
  if (i / 8 >= bitmap.size()) return false;
  return (static_cast<uint8_t>(bitmap[i / 8]) >> (7 - i % 8)) & 1;
}

// The indexes of the columns `pick` selects, in order.
template <typename Pick>
std::vector<size_t> Select(const TableMap& map, Pick pick) {
  std::vector<size_t> out;
  for (size_t i = 0; i < map.columns.size(); ++i) {
    if (pick(map.columns[i])) out.push_back(i);
  }
  return out;
}

// DEFAULT_CHARSET-style: a default collation, then (index among `cols`, collation) pairs
// for the columns that differ.
void ReadDefaultCharset(ByteReader& r, const std::vector<size_t>& cols, TableMap* map) {
  auto def = static_cast<uint16_t>(r.Packed());
  for (size_t i : cols) map->columns[i].collation = def;
  while (r.ok() && r.left() > 0) {
    uint64_t index = r.Packed();
    auto collation = static_cast<uint16_t>(r.Packed());
    if (index < cols.size()) map->columns[cols[index]].collation = collation;
  }
}

// COLUMN_CHARSET-style: one collation per column of `cols`.
void ReadColumnCharsets(ByteReader& r, const std::vector<size_t>& cols, TableMap* map) {
  for (size_t i : cols) {
    if (!r.ok() || r.left() == 0) break;
    map->columns[i].collation = static_cast<uint16_t>(r.Packed());
  }
}

void ReadStringValues(ByteReader& r, const std::vector<size_t>& cols, TableMap* map) {
  for (size_t i : cols) {
    if (!r.ok() || r.left() == 0) break;
    uint64_t n = r.Packed();
    std::vector<std::string>& values = map->columns[i].values;
    values.clear();
    for (uint64_t k = 0; k < n && r.ok(); ++k) values.emplace_back(r.PackedBytes());
  }
}

void ReadOptionalField(uint8_t field, std::string_view data, TableMap* map) {
  ByteReader r(data);
  auto character = [](const Column& c) { return c.is_character(); };
  auto enum_or_set = [](const Column& c) { return c.is_enum_or_set(); };
  switch (field) {
    case kSignedness: {
      std::vector<size_t> numeric = Select(*map, [](const Column& c) { return c.is_numeric(); });
      for (size_t k = 0; k < numeric.size(); ++k) {
        map->columns[numeric[k]].is_unsigned = BitMsb(data, k);
      }
      break;
    }
    case kDefaultCharset:
      ReadDefaultCharset(r, Select(*map, character), map);
      break;
    case kColumnCharset:
      ReadColumnCharsets(r, Select(*map, character), map);
      break;
    case kEnumAndSetDefaultCharset:
      ReadDefaultCharset(r, Select(*map, enum_or_set), map);
      break;
    case kEnumAndSetColumnCharset:
      ReadColumnCharsets(r, Select(*map, enum_or_set), map);
      break;
    case kColumnName:
      for (Column& c : map->columns) {
        if (!r.ok() || r.left() == 0) break;
        c.name = std::string(r.PackedBytes());
      }
      map->has_names = r.ok();
      break;
    case kSetValues:
      ReadStringValues(r, Select(*map, [](const Column& c) { return c.real_type == kTypeSet; }),
                       map);
      break;
    case kEnumValues:
      ReadStringValues(r, Select(*map, [](const Column& c) { return c.real_type == kTypeEnum; }),
                       map);
      break;
    case kGeometryType:
      for (size_t i : Select(*map, [](const Column& c) { return c.type == kTypeGeometry; })) {
        if (!r.ok() || r.left() == 0) break;
        map->columns[i].geometry_type = static_cast<uint8_t>(r.Packed());
      }
      break;
    case kSimplePrimaryKey:
      map->primary_key.clear();
      while (r.ok() && r.left() > 0) map->primary_key.push_back(static_cast<size_t>(r.Packed()));
      break;
    case kPrimaryKeyWithPrefix:
      map->primary_key.clear();
      while (r.ok() && r.left() > 0) {
        map->primary_key.push_back(static_cast<size_t>(r.Packed()));
        (void)r.Packed();  // the prefix length: the key's values are still the whole columns
      }
      break;
    default:  // column visibility, and fields of later servers
      break;
  }
}

}  // namespace

Result<TableMap> DecodeTableMap(std::string_view body, uint8_t table_id_bytes) {
  ByteReader r(body);
  TableMap map;
  map.table_id = r.Uint(table_id_bytes);
  r.Skip(2);  // flags
  map.database = std::string(r.Bytes(r.U8()));
  r.Skip(1);  // NUL
  map.table = std::string(r.Bytes(r.U8()));
  r.Skip(1);
  uint64_t n = r.Packed();
  if (!r.ok() || n > r.left()) return Status::DataLoss("table map: truncated before its columns");
  std::string_view types = r.Bytes(static_cast<size_t>(n));
  map.columns.resize(static_cast<size_t>(n));
  for (size_t i = 0; i < map.columns.size(); ++i) {
    map.columns[i].type = static_cast<ColumnType>(static_cast<uint8_t>(types[i]));
  }
  ByteReader meta(r.PackedBytes());
  for (Column& c : map.columns) ReadTypeMetadata(meta, &c);
  std::string_view nullable = r.Bytes((map.columns.size() + 7) / 8);
  for (size_t i = 0; i < map.columns.size(); ++i) {
    map.columns[i].nullable = (static_cast<uint8_t>(nullable[i / 8]) >> (i % 8)) & 1;
  }
  if (!r.ok() || !meta.ok()) {
    return Status::DataLoss("table map of " + map.database + "." + map.table + ": truncated");
  }
  while (r.left() > 0) {
    uint8_t field = r.U8();
    std::string_view data = r.PackedBytes();
    if (!r.ok()) {
      return Status::DataLoss("table map of " + map.database + "." + map.table +
                              ": truncated optional metadata");
    }
    ReadOptionalField(field, data, &map);
  }
  for (size_t k : map.primary_key) {
    if (k >= map.columns.size()) {
      return Status::DataLoss("table map of " + map.database + "." + map.table +
                              ": primary key column " + std::to_string(k) + " out of range");
    }
  }
  return map;
}

}  // namespace sluice::mariadb
