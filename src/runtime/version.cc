#include "runtime/version.h"

namespace sluice {
const char* Version() { return SLUICE_VERSION; }
const char* Commit() { return SLUICE_COMMIT; }
}  // namespace sluice
