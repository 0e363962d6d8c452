#include "sourcekit/confirm_gate.h"

#include <catch2/catch.hpp>

namespace Catch {
template <>
struct StringMaker<sluice::Lsn> {
  static std::string convert(const sluice::Lsn& lsn) { return lsn.ToString(); }
};
}  // namespace Catch

namespace sluice {
namespace {

Checkpoint At(uint64_t lsn, uint64_t token = 0) { return Checkpoint{Lsn(lsn), token}; }

}  // namespace

TEST_CASE("ConfirmGate: durable checkpoints confirm, never backwards", "[unit][sourcekit]") {
  ConfirmGate gate;
  gate.StartAt(Lsn(100));
  CHECK(gate.Flush() == Lsn(100));
  gate.Emitted(At(200));
  CHECK(gate.Flush() == Lsn(100));  // handed on is not durable
  gate.Durable(At(200));
  CHECK(gate.Flush() == Lsn(200));
  SECTION("an older checkpoint changes nothing") {
    gate.Durable(At(150));
    CHECK(gate.Flush() == Lsn(200));
    CHECK(gate.confirmed() == Lsn(200));
  }
  SECTION("a restart at an older slot position changes nothing") {
    gate.StartAt(Lsn(120));
    CHECK(gate.Flush() == Lsn(200));
  }
  SECTION("a batch without a commit confirms nothing new") {
    gate.Durable(At(0));
    CHECK(gate.Flush() == Lsn(200));
  }
}

TEST_CASE("ConfirmGate: a hold below an earlier confirm lowers it, and caps later ones",
          "[unit][sourcekit]") {
  ConfirmGate gate;
  gate.StartAt(Lsn(100));
  gate.Emitted(At(300));
  gate.Durable(At(300));
  REQUIRE(gate.Flush() == Lsn(300));
  gate.Hold(Lsn(250));
  CHECK(gate.holding());
  CHECK(gate.Flush() == Lsn(250));
  CHECK(gate.confirmed() == Lsn(250));
  gate.Emitted(At(400, 1));
  gate.Durable(At(400, 1));
  CHECK(gate.Flush() == Lsn(250));  // no release token yet: still capped
  gate.StartAt(Lsn(500));           // a replay run starting meanwhile: still capped
  CHECK(gate.Flush() == Lsn(250));
}

TEST_CASE("ConfirmGate: the hold ends at the release token", "[unit][sourcekit]") {
  ConfirmGate gate;
  gate.StartAt(Lsn(100));
  gate.Hold(Lsn(100));
  gate.Emitted(At(0, 1));
  gate.Emitted(At(200, 1));
  gate.Emitted(At(0, 2));  // the last range of the snapshot beside the stream
  gate.ReleaseAt(2);
  gate.Durable(At(200, 1));
  CHECK(gate.Flush() == Lsn(100));
  CHECK(gate.holding());
  gate.Durable(At(0, 2));
  CHECK_FALSE(gate.holding());
  // The confirm at the token itself carried no LSN, and what was capped before stays capped:
  // the next commit confirms.
  CHECK(gate.Flush() == Lsn(100));
  gate.Emitted(At(300, 2));
  gate.Durable(At(300, 2));
  CHECK(gate.Flush() == Lsn(300));
}

TEST_CASE("ConfirmGate: a keepalive is confirmed only while nothing is in flight",
          "[unit][sourcekit]") {
  ConfirmGate gate;
  gate.StartAt(Lsn(100));
  SECTION("quiet: the keepalive's position may be flushed") {
    gate.Keepalive(Lsn(500), true);
    CHECK(gate.Flush() == Lsn(500));
    CHECK(gate.confirmed() == Lsn(100));  // nothing the sinks made durable moved
  }
  SECTION("an open transaction or a gathered batch") {
    gate.Keepalive(Lsn(500), false);
    CHECK(gate.Flush() == Lsn(100));
  }
  SECTION("a commit handed on but not durable") {
    gate.Emitted(At(200));
    gate.Keepalive(Lsn(500), true);
    CHECK(gate.Flush() == Lsn(100));
    gate.Durable(At(200));
    gate.Keepalive(Lsn(600), true);
    CHECK(gate.Flush() == Lsn(600));
  }
  SECTION("a snapshot token handed on but not durable") {
    gate.Emitted(At(0, 3));
    gate.Keepalive(Lsn(500), true);
    CHECK(gate.Flush() == Lsn(100));
  }
  SECTION("a hold") {
    gate.Hold(Lsn(100));
    gate.Keepalive(Lsn(500), true);
    CHECK(gate.Flush() == Lsn(100));
  }
  SECTION("a hold lowers an earlier keepalive's position") {
    gate.Keepalive(Lsn(500), true);
    gate.Hold(Lsn(300));
    CHECK(gate.Flush() == Lsn(300));
  }
}

}  // namespace sluice
