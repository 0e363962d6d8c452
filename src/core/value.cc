#include "core/value.h"

namespace sluice {

const Field* FindField(const Row& row, std::string_view name) {
  for (const Field& f : row) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Field* FindField(Row& row, std::string_view name) {
  for (Field& f : row) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace sluice
