// The pipeline's waiters for a commit (/wait): fed by each sink's durable batches, not by
// what every sink confirmed; blind to checkpoints the source holds back; answered by what
// the source says it has handed on (an idle stream); closed when the pipeline ends.
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "runtime/pipeline.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using Clock = CommitWaiters::Clock;

// Runs the steps the test allows, one at a time: emit a batch whose checkpoint has an LSN,
// hold or release its checkpoints, or say a position is durable everywhere.
class SteppedSource : public Source {
 public:
  struct Step {
    enum Kind { kEmit, kHold, kRelease, kHandedOn } kind;
    uint64_t lsn = 0;
  };
  SteppedSource(std::vector<Step> steps, std::shared_ptr<SourceDurability> durability)
      : steps_(std::move(steps)), durability_(std::move(durability)) {}
  Status Check() override { return Status::Ok(); }
  Status Run(BatchEmitter& out, const std::atomic<bool>& stop) override {
    auto table = std::make_shared<const TableId>(TableId{"s", "public", "t"});
    for (size_t i = 0; i < steps_.size() && !stop; ++i) {
      while (allowed <= i && !stop) std::this_thread::sleep_for(milliseconds(1));
      const Step& s = steps_[i];
      if (s.kind == Step::kHold) durability_->HoldCheckpoints();
      if (s.kind == Step::kRelease) durability_->ReleaseCheckpoints();
      if (s.kind == Step::kHandedOn) durability_->HandedOnUpTo(Lsn(s.lsn));
      if (s.kind == Step::kEmit) {
        Batch b;
        Change c;
        c.op = Op::kInsert;
        c.table = table;
        c.key = {{"id", Value::Of(ValueKind::kInt, std::to_string(i))}};
        c.position = Position{Lsn(s.lsn), 0};
        b.changes.push_back(std::move(c));
        b.checkpoint = Checkpoint{Lsn(s.lsn), 0};
        if (!out.Emit(std::move(b), nullptr)) return Status::Cancelled("stop");
      }
      done = i + 1;
    }
    while (!stop) std::this_thread::sleep_for(milliseconds(1));
    return Status::Cancelled("stop");
  }
  void Confirm(const Checkpoint&) override {}
  std::atomic<size_t> allowed{0};
  std::atomic<size_t> done{0};

 private:
  std::vector<Step> steps_;
  std::shared_ptr<SourceDurability> durability_;
};

class GateSink : public Sink {
 public:
  Status Open() override { return Status::Ok(); }
  Status Check() override { return Status::Ok(); }
  Status Write(const Batch&) override {
    while (blocked) std::this_thread::sleep_for(milliseconds(1));
    return Status::Ok();
  }
  Status Flush() override { return Status::Ok(); }
  std::atomic<bool> blocked{false};
};

struct Outcome {
  std::mutex mu;
  bool finished = false;
  WaitEnd::Kind kind = WaitEnd::Kind::kDurable;
  bool Finished() {
    std::lock_guard lock(mu);
    return finished;
  }
};

class Ticket : public WaitTicket {
 public:
  explicit Ticket(std::shared_ptr<Outcome> out) : out_(std::move(out)) {}
  void Finish(const WaitEnd& end) override {
    std::lock_guard lock(out_->mu);
    out_->finished = true;
    out_->kind = end.kind;
  }

 private:
  std::shared_ptr<Outcome> out_;
};

struct Harness {
  SteppedSource* source = nullptr;
  std::vector<GateSink*> sinks;
  std::unique_ptr<Pipeline> pipeline;

  std::shared_ptr<Outcome> Wait(uint64_t lsn, SinkSet set) {
    auto out = std::make_shared<Outcome>();
    pipeline->waiters()->Add(Lsn(lsn), set, Clock::now() + std::chrono::minutes(1),
                             std::make_unique<Ticket>(out));
    return out;
  }
  // Lets the source run its steps up to `n` and waits until it has.
  void RunTo(size_t n) {
    source->allowed = n;
    REQUIRE(Eventually([&] { return source->done >= n; }));
  }
  static bool Eventually(const std::function<bool()>& cond) {
    for (int i = 0; i < 2500 && !cond(); ++i) std::this_thread::sleep_for(milliseconds(2));
    return cond();
  }
};

Harness Make(std::vector<SteppedSource::Step> steps, int num_sinks, bool commit_positions) {
  Harness h;
  auto durability = std::make_shared<SourceDurability>();
  auto src = std::make_unique<SteppedSource>(std::move(steps), durability);
  h.source = src.get();
  std::vector<NamedSink> sinks;
  for (int i = 0; i < num_sinks; ++i) {
    auto s = std::make_unique<GateSink>();
    h.sinks.push_back(s.get());
    sinks.push_back({"sink" + std::to_string(i), std::move(s)});
  }
  PipelineTelemetry telemetry;
  telemetry.durability = durability;
  telemetry.commit_positions = commit_positions;
  h.pipeline = std::make_unique<Pipeline>("p", std::move(src), std::move(sinks),
                                          std::vector<std::unique_ptr<Transform>>{},
                                          PipelineLimits{}, telemetry);
  return h;
}

using S = SteppedSource::Step;

}  // namespace

TEST_CASE("Pipeline waiters: a sink's own durable batches answer waits on it",
          "[unit][pipeline][wait]") {
  auto h = Make({{S::kEmit, 10}, {S::kEmit, 20}}, 2, true);
  REQUIRE(h.pipeline->waiters() != nullptr);
  h.sinks[1]->blocked = true;  // sink1 stuck in a write: nothing is confirmed
  h.pipeline->Start();
  auto on_sink0 = h.Wait(20, 1);
  auto on_all = h.Wait(20, h.pipeline->waiters()->AllSinks());
  h.RunTo(2);
  CHECK(Harness::Eventually([&] { return on_sink0->Finished(); }));
  CHECK_FALSE(on_all->Finished());
  CHECK(h.pipeline->coordinator().confirmed().empty());
  h.sinks[1]->blocked = false;
  CHECK(Harness::Eventually([&] { return on_all->Finished(); }));
  CHECK(on_all->kind == WaitEnd::Kind::kDurable);
}

TEST_CASE("Pipeline waiters: checkpoints emitted while the source holds them answer nothing",
          "[unit][pipeline][wait]") {
  // A table added to a pipeline: the other tables' commits come while its changes are held
  // back for a replay, whose first commits are lower.
  auto h = Make({{S::kEmit, 10},
                 {S::kHold},
                 {S::kEmit, 40},
                 {S::kEmit, 50},
                 {S::kRelease},
                 {S::kEmit, 20},
                 {S::kEmit, 45},
                 {S::kHandedOn, 90}},
                1, true);
  h.pipeline->Start();
  auto at30 = h.Wait(30, 1);
  auto at50 = h.Wait(50, 1);
  auto at90 = h.Wait(90, 1);
  h.RunTo(4);
  REQUIRE(Harness::Eventually([&] { return h.pipeline->coordinator().durable_batch() == 3; }));
  CHECK(h.pipeline->waiters()->Position(0) == Lsn(10));
  CHECK_FALSE(at30->Finished());
  h.RunTo(6);  // the replay's first commit: still below 30
  REQUIRE(Harness::Eventually([&] { return h.pipeline->coordinator().durable_batch() == 4; }));
  CHECK(h.pipeline->waiters()->Position(0) == Lsn(20));
  CHECK_FALSE(at30->Finished());
  h.RunTo(7);
  CHECK(Harness::Eventually([&] { return at30->Finished(); }));
  CHECK_FALSE(at50->Finished());
  h.RunTo(8);  // an idle stream's position: in the batches handed on
  CHECK(Harness::Eventually([&] { return at50->Finished() && at90->Finished(); }));
}

TEST_CASE("Pipeline waiters: an idle stream's position reaches each sink with its batches",
          "[unit][pipeline][wait]") {
  auto h = Make({{S::kEmit, 10}, {S::kHandedOn, 500}}, 2, true);
  h.sinks[1]->blocked = true;
  h.pipeline->Start();
  auto on_sink0 = h.Wait(400, 1);
  auto on_sink1 = h.Wait(400, 2);
  h.RunTo(2);
  CHECK(Harness::Eventually([&] { return on_sink0->Finished(); }));
  CHECK_FALSE(on_sink1->Finished());
  h.sinks[1]->blocked = false;
  CHECK(Harness::Eventually([&] { return on_sink1->Finished(); }));
}

TEST_CASE("Pipeline waiters: none without commit positions, and closed when the pipeline stops",
          "[unit][pipeline][wait]") {
  auto plain = Make({{S::kEmit, 10}}, 1, false);
  CHECK(plain.pipeline->waiters() == nullptr);

  auto h = Make({{S::kEmit, 10}}, 1, true);
  h.pipeline->Start();
  auto pending = h.Wait(500, 1);
  h.pipeline->RequestStop();
  REQUIRE(h.pipeline->Wait().ok());
  REQUIRE(pending->Finished());
  CHECK(pending->kind == WaitEnd::Kind::kClosed);
}

}  // namespace sluice
