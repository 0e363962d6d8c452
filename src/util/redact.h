// Redact: removes secrets from text before it reaches a log, an endpoint or the terminal.
// Two layers. First, every secret the process was told about (AddSecret: the config loader
// adds each kSecret option's value and the parts of it its plugin names, such as a DSN's
// password) is replaced wherever it occurs, in any message. Then textual rules hide what
// looks like a secret even if nobody registered it: values of keys named like secrets, read
// the way libpq reads a connection string, and the password of a URL's user info.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sluice {

// Secrets shorter than this are not registered: replacing every "ab" in every message would
// make logs unreadable, and a secret that short protects nothing. The textual rules still
// hide them where they follow `password=`.
inline constexpr size_t kMinSecretLength = 3;

// Adds `secret` to the process-wide set Redact() replaces by "***" wherever it occurs.
// Thread-safe; the set only grows (a secret once known stays hidden).
void AddSecret(std::string_view secret);

// `text` with every known secret replaced (longest first, so a secret that contains another
// is hidden whole), then with the textual rules applied:
//  - `password`, `passwd`, `pwd`, `sslpassword`, `token`, `secret` (any case, as a whole
//    word) followed by blanks, `=`, blanks and a value: the value is hidden. A value is read
//    as libpq reads conninfo: '...' quoted (with \' and \\ inside), or bare up to a blank
//    with `\` escaping the next character. After `?` or `&` (a URL query) a value ends at
//    `&`, `#` or a blank instead.
//  - `scheme://user:secret@host`: the password, up to the last `@` before the first `/` or
//    blank.
std::string Redact(std::string_view text);

// The values the textual rules of Redact hide in `text`, as written (a quoted value without
// its quotes), and a URL password also %-decoded. For plugins' OptionSpec::secrets: what
// a value shows of its secrets wherever it is printed.
std::vector<std::string> WrittenSecrets(std::string_view text);

// OptionSpec::secrets for an option holding a URL: WrittenSecrets, never an error.
Result<std::vector<std::string>> UrlSecrets(const std::string& url);

}  // namespace sluice
