// Redact: removes secrets from text before it reaches a log or an endpoint.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Hides passwords in libpq conninfo strings (`password=...`), in URLs
// (`scheme://user:secret@host`) and in query parameters named like secrets.
std::string Redact(std::string_view text);

}  // namespace sluice
