#include "core/bounded_queue.h"

#include <catch2/catch.hpp>
#include <thread>

namespace sluice {

using std::chrono::milliseconds;

TEST_CASE("BoundedQueue: count budget blocks the producer until a pop", "[unit][queue]") {
  BoundedQueue<int> q(2, 1000);
  int a = 1, b = 2, c = 3;
  REQUIRE(q.Push(a, 1, milliseconds(0)));
  REQUIRE(q.Push(b, 1, milliseconds(0)));
  CHECK_FALSE(q.Push(c, 1, milliseconds(20)));  // full: times out, item untouched
  CHECK(c == 3);
  std::thread consumer([&] { CHECK(q.Pop(milliseconds(1000)) == 1); });
  CHECK(q.Push(c, 1, milliseconds(5000)));  // unblocked by the pop
  consumer.join();
  CHECK(q.Pop(milliseconds(0)) == 2);
  CHECK(q.Pop(milliseconds(0)) == 3);
  CHECK_FALSE(q.Pop(milliseconds(10)).has_value());
}

TEST_CASE("BoundedQueue: byte budget, and one oversized item still passes alone", "[unit][queue]") {
  BoundedQueue<int> q(100, 100);
  int x = 0;
  REQUIRE(q.Push(x, 60, milliseconds(0)));
  CHECK_FALSE(q.Push(x, 50, milliseconds(10)));  // 110 > 100
  CHECK(q.bytes() == 60);
  REQUIRE(q.Pop(milliseconds(0)).has_value());
  CHECK(q.Push(x, 500, milliseconds(0)));  // empty queue admits any single item
  CHECK_FALSE(q.Push(x, 1, milliseconds(10)));
}

TEST_CASE("BoundedQueue: close wakes a blocked producer and drains for consumers",
          "[unit][queue]") {
  BoundedQueue<int> q(1, 100);
  int a = 1, b = 2;
  REQUIRE(q.Push(a, 1, milliseconds(0)));
  std::thread closer([&] {
    std::this_thread::sleep_for(milliseconds(20));
    q.Close();
  });
  CHECK_FALSE(q.Push(b, 1, milliseconds(10000)));  // woken by Close, not by the timeout
  closer.join();
  CHECK(q.Pop(milliseconds(0)) == 1);
  CHECK_FALSE(q.Pop(milliseconds(1000)).has_value());
}

}  // namespace sluice
