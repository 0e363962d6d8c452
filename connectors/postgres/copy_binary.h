// Reader for `COPY ... TO STDOUT (FORMAT binary)`: each field arrives as its type's send
// form, which costs the server less to produce than the text output (no number or date
// formatting, no escaping). The common types are turned back into exactly the text their
// output function gives under kSessionOptions, so what follows (ConvertColumnInto) sees
// the same text as from a text COPY. Pure code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/value.h"

namespace sluice::pg {

// How a column of a type is read from a binary COPY.
enum class BinaryReading : uint8_t {
  kNone,      // it is not: a table with such a column (an array, an enum, ...) is copied as text
  kSendForm,  // its send form, turned into text here: bool, int2/int4/int8/oid, numeric,
              // text/varchar/bpchar/name, json/jsonb, bytea, uuid, date, timestamp, timestamptz
  kAsText,    // selected as `column::text`, its output function's text, which the server
              // formats as in a text COPY: float4/float8, whose shortest-exact digits sluice
              // would otherwise have to reproduce
};
BinaryReading BinaryReadingOf(uint32_t type_oid);

// The output function's text of one value as a binary COPY carries it (BinaryReadingOf),
// under kSessionOptions (DateStyle
// ISO, TimeZone UTC, bytea hex). Text-like types view `bytes` itself; the others are
// written into *scratch, which the result then views. False when `bytes` is not a valid
// send form of the type (wrong length, unknown numeric sign, jsonb version).
bool BinaryFieldText(uint32_t type_oid, std::string_view bytes, std::string* scratch,
                     std::string_view* text);

// The Value ConvertTextInto gives BinaryFieldText's text, written for the common types
// without that text in between. False as for BinaryFieldText; `out` is then undefined.
bool BinaryFieldInto(uint32_t type_oid, std::string_view bytes, std::string* scratch, Value* out);

// Reads the fields of one CopyData message of a binary COPY. The first message of a COPY
// starts with the file header, which Start skips; the last holds only the trailer.
class CopyBinaryReader {
 public:
  // Skips the file header when `message` starts with one, and reads the row's field
  // count. False when the message holds no row (the trailer, or a header alone) or is
  // malformed (then malformed() is true).
  bool Start(std::string_view message);
  // The next field's raw bytes (null: a NULL), or false once the row is done or
  // malformed.
  bool Next(bool* null, std::string_view* bytes);
  bool malformed() const { return malformed_; }

 private:
  std::string_view rest_;
  int fields_ = 0;
  bool malformed_ = false;
};

}  // namespace sluice::pg
