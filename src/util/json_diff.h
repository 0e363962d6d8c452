// Where a stored JSON object differs from the expected one, for `sluice verify`'s reports.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sluice {

// The first member of two JSON objects that differs, named with `word` ("column", "field"):
// "column price: stored 10, expected 11", "column x is missing", "column y should not be
// there". `otherwise` when every member is equal.
std::string FirstMemberDifference(const nlohmann::json& stored, const nlohmann::json& expected,
                                  std::string_view word, std::string_view otherwise);

}  // namespace sluice
