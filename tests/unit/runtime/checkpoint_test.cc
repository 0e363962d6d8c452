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

TEST_CASE("CheckpointCoordinator: each sink's wait position is the newest it made durable",
          "[unit][checkpoint][wait]") {
  CheckpointCoordinator c(2, nullptr);
  c.Track(1, At(100), Lsn(100));
  c.Track(2, Checkpoint{}, Lsn());  // mid-transaction: says nothing
  c.Track(3, At(300), Lsn(300));
  c.Track(4, At(400), Lsn());  // tracked while the source held its checkpoints back
  c.Track(5, At(500), Lsn(500));
  CHECK(c.sink_position(0) == Lsn());

  c.Durable(0, 3);  // sink 0 ahead of sink 1: its own position, not the confirmed one
  CHECK(c.sink_position(0) == Lsn(300));
  CHECK(c.sink_position(1) == Lsn());
  c.Durable(1, 1);
  CHECK(c.sink_position(1) == Lsn(100));
  c.Durable(0, 4);  // batch 4's LSN answers no wait
  CHECK(c.sink_position(0) == Lsn(300));
  c.Durable(1, 4);  // batches 1..3 now durable everywhere and dropped; 4 stays pending
  CHECK(c.sink_position(1) == Lsn(300));
  c.Durable(1, 5);
  CHECK(c.sink_position(1) == Lsn(500));
  CHECK(c.sink_position(0) == Lsn(300));
  c.Durable(0, 2);  // late report: nothing changes
  CHECK(c.sink_position(0) == Lsn(300));
  CHECK(c.sink_position(7) == Lsn());
}

TEST_CASE("CheckpointCoordinator: a replay of lower LSNs does not lower a wait position",
          "[unit][checkpoint][wait]") {
  // After a reconnect the stream resumes from the slot and sends commits again: what was
  // durable stays durable.
  CheckpointCoordinator c(1, nullptr);
  c.Track(1, At(500), Lsn(500));
  c.Track(2, At(200), Lsn(200));
  c.Durable(0, 2);
  CHECK(c.sink_position(0) == Lsn(500));
}

TEST_CASE("CheckpointCoordinator: a position handed on reaches each sink with the newest batch",
          "[unit][checkpoint][wait]") {
  // An idle stream: every commit up to 900 is in the batches so far (the others touched no
  // piped table).
  CheckpointCoordinator c(2, nullptr);
  c.HandedOn(Lsn(50));  // nothing tracked yet: every sink has it
  CHECK(c.sink_position(0) == Lsn(50));
  CHECK(c.sink_position(1) == Lsn(50));
  c.Track(1, At(100), Lsn(100));
  c.Track(2, At(200), Lsn(200));
  c.Durable(0, 2);
  c.Durable(1, 1);
  c.HandedOn(Lsn(900));
  CHECK(c.sink_position(0) == Lsn(900));  // it has batch 2, the newest
  CHECK(c.sink_position(1) == Lsn(100));  // not yet
  c.Durable(1, 2);
  CHECK(c.sink_position(1) == Lsn(900));
  c.HandedOn(Lsn(950));  // nothing pending now
  CHECK(c.sink_position(0) == Lsn(950));
  CHECK(c.sink_position(1) == Lsn(950));
}

}  // namespace sluice
