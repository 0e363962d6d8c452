#include "runtime/commit_waiters.h"

#include <catch2/catch.hpp>
#include <memory>
#include <vector>

namespace sluice {

namespace {

using Clock = CommitWaiters::Clock;
using std::chrono::seconds;

// Records how its wait ended.
struct Outcome {
  bool finished = false;
  WaitEnd end;
  bool destroyed = false;
};

class RecordingTicket : public WaitTicket {
 public:
  RecordingTicket(std::shared_ptr<Outcome> out, bool abandoned = false)
      : out_(std::move(out)), abandoned_(abandoned) {}
  ~RecordingTicket() override { out_->destroyed = true; }
  void Finish(const WaitEnd& end) override {
    REQUIRE_FALSE(out_->finished);  // exactly once
    out_->finished = true;
    out_->end = end;
  }
  bool Abandoned() const override { return abandoned_; }

 private:
  std::shared_ptr<Outcome> out_;
  bool abandoned_;
};

std::shared_ptr<Outcome> Wait(CommitWaiters& w, uint64_t lsn, SinkSet sinks,
                              Clock::time_point deadline = Clock::now() + seconds(60)) {
  auto out = std::make_shared<Outcome>();
  w.Add(Lsn(lsn), sinks, deadline, std::make_unique<RecordingTicket>(out));
  return out;
}

}  // namespace

TEST_CASE("CommitWaiters: a sink's durable position answers exactly the waits it reaches",
          "[unit][wait]") {
  CommitWaiters w({"cache"});
  auto a = Wait(w, 100, 1);
  auto b = Wait(w, 200, 1);
  auto c = Wait(w, 300, 1);
  CHECK(w.waiting() == 3);
  w.SinkDurable(0, Lsn(199));
  CHECK(a->finished);
  CHECK(a->end.kind == WaitEnd::Kind::kDurable);
  CHECK(a->end.positions == std::vector<Lsn>{Lsn(199)});
  CHECK_FALSE(b->finished);
  w.SinkDurable(0, Lsn(200));  // at the LSN itself: durable
  CHECK(b->finished);
  CHECK_FALSE(c->finished);
  w.SinkDurable(0, Lsn(150));  // lower than before: ignored
  CHECK(w.Position(0) == Lsn(200));
  CHECK(w.waiting() == 1);
}

TEST_CASE("CommitWaiters: a wait names its sinks, and all of them must have the LSN",
          "[unit][wait]") {
  CommitWaiters w({"cache", "search"});
  REQUIRE(w.AllSinks() == 3);
  REQUIRE(w.SinkIndex("search") == 1);
  REQUIRE(w.SinkIndex("nope") == -1);
  auto both = Wait(w, 100, w.AllSinks());
  auto search = Wait(w, 100, 2);
  auto cache = Wait(w, 100, 1);
  w.SinkDurable(1, Lsn(100));  // search has it, cache is stuck (down)
  CHECK(search->finished);
  CHECK_FALSE(both->finished);
  CHECK_FALSE(cache->finished);
  w.SinkDurable(0, Lsn(120));
  CHECK(both->finished);
  CHECK(cache->finished);
  CHECK(both->end.positions == std::vector<Lsn>{Lsn(120), Lsn(100)});
}

TEST_CASE("CommitWaiters: a wait already durable is answered at once", "[unit][wait]") {
  CommitWaiters w({"cache"});
  w.SinkDurable(0, Lsn(1000));
  auto a = Wait(w, 999, 1);
  CHECK(a->finished);
  CHECK(a->end.kind == WaitEnd::Kind::kDurable);
  CHECK(a->destroyed);
  CHECK(w.waiting() == 0);
}

TEST_CASE("CommitWaiters: deadlines time waits out, with each sink's health", "[unit][wait]") {
  CommitWaiters w({"cache", "search"}, [](size_t i) {
    return i == 0 ? SinkHealth{false, "write failed: connection refused"} : SinkHealth{};
  });
  const auto t0 = Clock::now();
  auto soon = Wait(w, 100, 3, t0 + seconds(1));
  auto later = Wait(w, 100, 3, t0 + seconds(5));
  CHECK(w.NextDeadline() == t0 + seconds(1));
  w.SinkDurable(1, Lsn(100));
  w.Expire(t0 + std::chrono::milliseconds(999));
  CHECK_FALSE(soon->finished);
  w.Expire(t0 + seconds(1));
  REQUIRE(soon->finished);
  CHECK(soon->end.kind == WaitEnd::Kind::kTimedOut);
  REQUIRE(soon->end.sinks.size() == 2);
  CHECK_FALSE(soon->end.sinks[0].up);
  CHECK(soon->end.sinks[0].last_error == "write failed: connection refused");
  CHECK(soon->end.positions == std::vector<Lsn>{Lsn(), Lsn(100)});
  CHECK_FALSE(later->finished);
  CHECK(w.NextDeadline() == t0 + seconds(5));
  w.SinkDurable(0, Lsn(100));
  CHECK(later->finished);
  CHECK(later->end.kind == WaitEnd::Kind::kDurable);
  CHECK(w.NextDeadline() == Clock::time_point::max());
}

TEST_CASE("CommitWaiters: abandoned waits are dropped without an answer", "[unit][wait]") {
  CommitWaiters w({"cache"});
  auto gone = std::make_shared<Outcome>();
  w.Add(Lsn(100), 1, Clock::now() + seconds(60), std::make_unique<RecordingTicket>(gone, true));
  auto kept = Wait(w, 100, 1);
  w.Expire(Clock::now() + seconds(2));
  CHECK(gone->destroyed);
  CHECK_FALSE(gone->finished);
  CHECK(w.waiting() == 1);
  w.SinkDurable(0, Lsn(100));
  CHECK(kept->finished);
}

TEST_CASE("CommitWaiters: Close answers every wait, and every later one", "[unit][wait]") {
  CommitWaiters w({"cache"});
  auto a = Wait(w, 100, 1);
  w.Close("failed: sink cache: wrong password");
  REQUIRE(a->finished);
  CHECK(a->end.kind == WaitEnd::Kind::kClosed);
  CHECK(a->end.closed_because == "failed: sink cache: wrong password");
  auto b = Wait(w, 1, 1);
  CHECK(b->end.kind == WaitEnd::Kind::kClosed);
  CHECK(w.waiting() == 0);
}

TEST_CASE("CommitWaiters: thousands of waits on a few LSN steps", "[unit][wait]") {
  CommitWaiters w({"cache", "search"});
  std::vector<std::shared_ptr<Outcome>> outs;
  for (uint64_t i = 0; i < 5000; ++i) outs.push_back(Wait(w, 1 + i, i % 2 == 0 ? 1 : 3));
  w.SinkDurable(0, Lsn(2500));
  size_t done = 0;
  for (auto& o : outs) done += o->finished ? 1 : 0;
  CHECK(done == 1250);  // the odd LSNs up to 2500 wait on sink 0 alone
  w.SinkDurable(1, Lsn(5000));
  w.SinkDurable(0, Lsn(5000));
  for (auto& o : outs) CHECK(o->finished);
  CHECK(w.waiting() == 0);
}

TEST_CASE("CommitWaiters: the source's reach widens a durable position", "[unit][wait]") {
  // PostgreSQL: no commit ends within 24 bytes after a record's end.
  CommitWaiters w({"cache"}, {}, [](Lsn at) { return Lsn(at.value() + 24); });
  auto inside = Wait(w, 0x2018, 1);
  auto past = Wait(w, 0x2019, 1);
  auto early = Wait(w, 10, 1);
  CHECK_FALSE(early->finished);  // nothing durable yet reaches nothing
  w.SinkDurable(0, Lsn(0x2000));
  CHECK(inside->finished);
  CHECK(early->finished);
  CHECK_FALSE(past->finished);
  CHECK(inside->end.positions == std::vector<Lsn>{Lsn(0x2000)});  // answers say what is durable
}

}  // namespace sluice
