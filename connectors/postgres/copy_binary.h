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

// True for the built-in types whose send form BinaryFieldText turns into text: bool,
// int2/int4/int8/oid, numeric, text/varchar/bpchar/name, json/jsonb, bytea, uuid, date,
// timestamp, timestamptz. A table with any other column type (a float, an array, an enum,
// ...) is copied as text.
bool HasBinaryText(uint32_t type_oid);

// The output function's text of one value in send form, under kSessionOptions (DateStyle
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
