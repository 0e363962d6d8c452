#include "util/json_diff.h"

namespace sluice {

std::string FirstMemberDifference(const nlohmann::json& stored, const nlohmann::json& expected,
                                  std::string_view word, std::string_view otherwise) {
  const std::string name(word);
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    auto s = stored.find(it.key());
    if (s == stored.end()) return name + " " + it.key() + " is missing";
    if (*s != it.value()) {
      return name + " " + it.key() + ": stored " + s->dump() + ", expected " + it.value().dump();
    }
  }
  for (auto it = stored.begin(); it != stored.end(); ++it) {
    if (!expected.contains(it.key())) return name + " " + it.key() + " should not be there";
  }
  return std::string(otherwise);
}

}  // namespace sluice
