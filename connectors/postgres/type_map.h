// PostgreSQL text output of a value + its type OID -> sluice::Value. Pure code.
// The rules assume the session settings in kSessionOptions; both the snapshot and the
// replication connection must use them, or text forms (dates, floats, bytea) differ.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/value.h"

namespace sluice::pg {

// libpq `options` conninfo value. ISO dates, UTC zone, ISO 8601 intervals, shortest exact
// floats (extra_float_digits >= 1 means round-trip output on PG12+), hex bytea.
inline constexpr const char* kSessionOptions =
    "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=iso_8601 -c extra_float_digits=3 "
    "-c bytea_output=hex";

// Built-in type OIDs (pg_type.oid, stable across versions).
inline constexpr uint32_t kBoolOid = 16;
inline constexpr uint32_t kByteaOid = 17;
inline constexpr uint32_t kInt8Oid = 20;
inline constexpr uint32_t kInt2Oid = 21;
inline constexpr uint32_t kInt4Oid = 23;
inline constexpr uint32_t kTextOid = 25;
inline constexpr uint32_t kOidOid = 26;
inline constexpr uint32_t kJsonOid = 114;
inline constexpr uint32_t kFloat4Oid = 700;
inline constexpr uint32_t kFloat8Oid = 701;
inline constexpr uint32_t kMoneyOid = 790;
inline constexpr uint32_t kBpcharOid = 1042;
inline constexpr uint32_t kVarcharOid = 1043;
inline constexpr uint32_t kDateOid = 1082;
inline constexpr uint32_t kTimeOid = 1083;
inline constexpr uint32_t kTimestampOid = 1114;
inline constexpr uint32_t kTimestamptzOid = 1184;
inline constexpr uint32_t kIntervalOid = 1186;
inline constexpr uint32_t kTimetzOid = 1266;
inline constexpr uint32_t kNumericOid = 1700;
inline constexpr uint32_t kUuidOid = 2950;
inline constexpr uint32_t kJsonbOid = 3802;

// Maps one value in text output form to a Value:
//   bool -> kBool "true"/"false"; int2/int4/int8/oid -> kInt; float4/float8 -> kFloat
//   (NaN, Infinity, -Infinity kept as text); numeric -> kNumeric exact text (NaN, Infinity
//   too); json/jsonb -> kJson as is, except that line breaks between tokens (json keeps
//   its input's) become spaces; bytea (hex, or escape format) -> kString base64;
//   date -> "2026-11-24"; timestamp -> "2026-11-24T10:00:00.123"; timestamptz ->
//   "...T10:00:00.123Z" (a non-zero offset becomes "+HH:MM"); timetz likewise; time and
//   interval as given; infinity/-infinity stay those words. BC dates and timestamps become
//   ISO 8601 astronomical years: "0044-03-15 BC" -> "-0043-03-15", "0001-01-01 BC" ->
//   "0000-01-01". Arrays of known element types -> kJson array (see ConvertArrayText).
//   Everything else (text, varchar, enum, inet, ranges, composite, money, unknown OIDs,
//   ...) -> kString as is. Text that does not have its type's expected form (not a
//   number for an int, odd-length hex for bytea, malformed array) becomes kString as is,
//   so a Value never carries invalid JSON.
Value ConvertText(uint32_t type_oid, std::string_view text);

// ConvertText into `out`, reusing its string's buffer for the common types (integers,
// numeric, text, uuid, timestamps in the session's UTC form).
void ConvertTextInto(uint32_t type_oid, std::string_view text, Value* out);

// Array type OID -> element type OID for the built-in array types; 0 otherwise (user
// types such as enum arrays have per-database OIDs: look them up in pg_type.typelem).
uint32_t ArrayElementType(uint32_t array_oid);

// One array value in text output form ("{1,2}", "{{a,NULL},{\"b,c\",d}}", "[0:1]={1,2}")
// -> kJson array, nested per dimension, NULL elements as null, each element converted by
// ConvertText(element_oid, ...) and embedded per its kind (numbers bare, numeric and
// strings quoted, json raw). Explicit bounds are dropped. `delimiter` is pg_type.typdelim
// (',' for all but box, which uses ';'). Malformed text -> kString as is.
Value ConvertArrayText(uint32_t element_oid, std::string_view text, char delimiter = ',');

}  // namespace sluice::pg
