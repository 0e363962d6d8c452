#include "core/change_pool.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

namespace sluice {
namespace {

Batch BatchOf(size_t changes, size_t bytes) {
  Batch b;
  b.changes.resize(changes);
  for (Change& c : b.changes)
    c.after = Row{{"payload", Value::Of(ValueKind::kString, std::string(100, 'x'))}};
  b.bytes = bytes;
  return b;
}

TEST_CASE("ChangePool: a batch's changes come back once its last holder lets go", "[unit][core]") {
  auto pool = std::make_shared<ChangePool>(2, 1000);
  pool->Want(true);
  BatchPtr a = ChangePool::Share(pool, BatchOf(3, 500));
  BatchPtr copy = a;
  const Change* first = a->changes.data();
  a.reset();
  CHECK(pool->Take().empty());  // `copy` still holds it
  copy.reset();
  std::vector<Change> back = pool->Take();
  REQUIRE(back.size() == 3);
  CHECK(back.data() == first);  // the same buffers, not copies
  REQUIRE(back[0].after);
  CHECK((*back[0].after)[0].value.text == std::string(100, 'x'));
  CHECK(pool->Take().empty());
  pool->Want(false);
}

TEST_CASE("ChangePool: bounded, and keeps nothing unless wanted", "[unit][core]") {
  auto pool = std::make_shared<ChangePool>(2, 1000);
  // Nobody wants spent changes: a pipeline that only streams keeps none.
  ChangePool::Share(pool, BatchOf(1, 10)).reset();
  CHECK(pool->Take().empty());

  pool->Want(true);
  ChangePool::Share(pool, BatchOf(1, 1001)).reset();  // over the byte bound
  CHECK(pool->Take().empty());
  for (int i = 0; i < 3; ++i) ChangePool::Share(pool, BatchOf(1, 10)).reset();
  CHECK(pool->Take().size() == 1);
  CHECK(pool->Take().size() == 1);
  CHECK(pool->Take().empty());  // only two were kept

  ChangePool::Share(pool, BatchOf(1, 10)).reset();
  pool->Want(false);  // frees what is kept
  CHECK(pool->Take().empty());

  // Without a pool, a plain shared batch.
  BatchPtr plain = ChangePool::Share(nullptr, BatchOf(2, 10));
  CHECK(plain->changes.size() == 2);
}

TEST_CASE("FitBuffer: keeps a buffer only in proportion to the value", "[unit][core]") {
  std::string s(10000, 'x');
  FitBuffer(s, 9000);
  CHECK(s.capacity() >= 10000);  // within twice: kept
  FitBuffer(s, 100);
  CHECK(s.capacity() <= 256);
  s.assign(200, 'y');
  FitBuffer(s, 10);
  CHECK(s.capacity() >= 200);  // small buffers are always kept
}

}  // namespace
}  // namespace sluice
