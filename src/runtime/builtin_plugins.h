// The one list of built-in plugins. Adding a connector or sink means adding one line here.
#pragma once

#include "core/registry.h"

namespace sluice {

void RegisterBuiltinPlugins(Registry& registry);

}  // namespace sluice
