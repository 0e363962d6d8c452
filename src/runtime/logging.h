// Logging set-up: spdlog to stderr (stdout belongs to the stdout sink), as text for people
// or as JSON lines for collectors. Every message passes through Redact().
#pragma once

#include <string>

#include "core/status.h"

namespace sluice {

// format: "text" | "json" | "auto" (json when stderr is not a terminal); level: trace | debug |
// info | warn | error.
Status SetupLogging(const std::string& format, const std::string& level);

}  // namespace sluice
