#include "runtime/checkpoint.h"

#include <catch2/catch.hpp>
#include <vector>

namespace sluice {

namespace {
Checkpoint At(uint64_t lsn) { return Checkpoint{Lsn(lsn), 0}; }
}  // namespace

TEST_CASE("CheckpointCoordinator: confirms the minimum across sinks, never past it",
          "[unit][checkpoint]") {
  std::vector<uint64_t> confirmed;
  CheckpointCoordinator c(2, [&](const Checkpoint& cp) { confirmed.push_back(cp.lsn.value()); });
  c.Track(1, At(100));
  c.Track(2, Checkpoint{});  // mid-transaction batch: nothing to confirm by itself
  c.Track(3, At(300));
  c.Track(4, At(400));

  c.Durable(0, 3);           // sink 0 is ahead...
  CHECK(confirmed.empty());  // ...but sink 1 has nothing durable yet
  c.Durable(1, 1);
  CHECK(confirmed == std::vector<uint64_t>{100});
  c.Durable(1, 2);  // batch 2 carries no checkpoint: nothing new to confirm
  CHECK(confirmed == std::vector<uint64_t>{100});
  c.Durable(1, 4);  // min(3, 4) = 3
  CHECK(confirmed == std::vector<uint64_t>{100, 300});
  CHECK(c.durable_batch() == 3);
  CHECK(c.in_flight() == 1);
  c.Durable(0, 4);
  CHECK(confirmed == std::vector<uint64_t>{100, 300, 400});
  CHECK(c.in_flight() == 0);
}

TEST_CASE("CheckpointCoordinator: monotonic, late or repeated reports change nothing",
          "[unit][checkpoint]") {
  std::vector<uint64_t> confirmed;
  CheckpointCoordinator c(1, [&](const Checkpoint& cp) { confirmed.push_back(cp.lsn.value()); });
  for (uint64_t i = 1; i <= 5; ++i) c.Track(i, At(i * 10));
  c.Durable(0, 4);
  c.Durable(0, 2);  // a stale report
  c.Durable(0, 4);  // a repeated one
  CHECK(confirmed == std::vector<uint64_t>{40});
  c.Durable(0, 5);
  CHECK(confirmed == std::vector<uint64_t>{40, 50});
  CHECK(c.confirmed().lsn.value() == 50);
}

TEST_CASE("CheckpointCoordinator: the newest checkpoint of the prefix carries the tokens",
          "[unit][checkpoint]") {
  std::vector<Checkpoint> confirmed;
  CheckpointCoordinator c(1, [&](const Checkpoint& cp) { confirmed.push_back(cp); });
  c.Track(1, Checkpoint{Lsn(), 1});     // end of a snapshot table
  c.Track(2, Checkpoint{Lsn(500), 1});  // stream commit, same token carried on
  c.Durable(0, 2);
  REQUIRE(confirmed.size() == 1);
  CHECK(confirmed[0].lsn.value() == 500);
  CHECK(confirmed[0].token == 1);
}

}  // namespace sluice
