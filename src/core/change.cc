#include "core/change.h"

namespace sluice {

const char* OpName(Op op) {
  switch (op) {
    case Op::kRead:
      return "read";
    case Op::kInsert:
      return "insert";
    case Op::kUpdate:
      return "update";
    case Op::kDelete:
      return "delete";
    case Op::kTruncate:
      return "truncate";
  }
  return "unknown";
}

std::string TableId::ToString() const { return source + "." + schema + "." + name; }

namespace {
size_t RowBytes(const Row& row) {
  size_t n = row.capacity() * sizeof(Field);
  for (const Field& f : row) {
    if (f.name.size() > 15) n += f.name.size();
    if (f.value.text.size() > 15) n += f.value.text.size();
  }
  return n;
}
}  // namespace

size_t Change::ApproxBytes() const {
  size_t n = sizeof(Change) + RowBytes(key);
  if (old_key) n += RowBytes(*old_key);
  if (before) n += RowBytes(*before);
  if (after) n += RowBytes(*after);
  return n;
}

}  // namespace sluice
