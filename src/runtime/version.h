// Build identity, for `sluice version` and the logs.
#pragma once

namespace sluice {
const char* Version();  // "0.1.0"
const char* Commit();   // short git hash of the build, or "unknown"
}  // namespace sluice
