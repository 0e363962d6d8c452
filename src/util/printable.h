// Printable: user text (config keys, values, names) made safe to print inside one line of a
// message, so a newline in a key cannot split a `file:line:column: ...` diagnostic in two.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// `text` with control characters and bytes that are not valid UTF-8 escaped: "\n", "\r",
// "\t", "\x01", "\x7f", "\xff", and C1 controls as "\u0085". Valid UTF-8 is kept as it is;
// a backslash is kept too, so a message that already holds escapes is left unchanged.
std::string Printable(std::string_view text);

// Printable(text) in single quotes, with a backslash written "\\" so that every escape
// inside the quotes is unambiguous: 'a\nb' is a newline, 'a\\nb' a backslash and an n.
std::string QuotePrintable(std::string_view text);

}  // namespace sluice
