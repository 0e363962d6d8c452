// The status page served at GET /: one HTML file (src/runtime/status_page.html) with its
// script and styles, compiled into the binary so it works offline and loads nothing else.
#pragma once

#include <string_view>

namespace sluice {

// The page's HTML, UTF-8.
std::string_view StatusPageHtml();

}  // namespace sluice
