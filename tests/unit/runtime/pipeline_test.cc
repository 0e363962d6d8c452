// The pipeline with a scripted source and fake sinks: ordering, retries, backpressure and
// the rule that nothing is confirmed past what every sink made durable.
#include "runtime/pipeline.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>

#include "support/changes.h"
#include "support/test_env.h"

namespace sluice {
namespace {

using std::chrono::seconds;

// Emits `batches` batches of one insert each, batch i carrying checkpoint LSN i*10; then
// waits for stop. Records what was confirmed.
class ScriptedSource : public Source {
 public:
  explicit ScriptedSource(int batches) : batches_(batches) {}
  Status Check() override { return Status::Ok(); }
  Status Run(BatchEmitter& out, const std::atomic<bool>& stop) override {
    auto table = test::MakeTable("s", "public", "t");
    for (int i = 1; i <= batches_ && !stop; ++i) {
      Change c = test::KeyedChange(Op::kInsert, table, i, static_cast<uint64_t>(i) * 10);
      c.after = c.key;
      Batch b = test::MakeBatch({std::move(c)});
      b.checkpoint = Checkpoint{Lsn(static_cast<uint64_t>(i) * 10), 0};
      if (!out.Emit(std::move(b), [this] { ++waits; })) return Status::Cancelled("stop");
      emitted = i;
    }
    test::WaitFor([&] { return stop.load(); }, std::chrono::hours(1));
    return Status::Cancelled("stop");
  }
  void Confirm(const Checkpoint& cp) override {
    std::lock_guard lock(mu);
    confirmed.push_back(cp.lsn.value());
  }
  std::vector<uint64_t> Confirmed() {
    std::lock_guard lock(mu);
    return confirmed;
  }
  std::atomic<int> emitted{0};
  std::atomic<int> waits{0};

 private:
  int batches_;
  std::mutex mu;
  std::vector<uint64_t> confirmed;
};

// Applies changes into a map; can fail the Nth write transiently or permanently, or block.
class FakeSink : public Sink {
 public:
  Status Open() override { return Status::Ok(); }
  Status Check() override { return Status::Ok(); }
  Status Write(const Batch& b) override {
    ++writes;
    if (writes == fail_at && fail_times-- > 0) {
      --writes;
      return permanent ? Status::Internal("boom") : Status::Unavailable("try later");
    }
    std::unique_lock lock(mu);
    unblocked.wait(lock, [this] { return !blocked; });
    for (const auto& c : b.changes) applied.push_back(c.position.lsn.value());
    return Status::Ok();
  }
  Status Flush() override { return Status::Ok(); }
  std::vector<uint64_t> Applied() {
    std::lock_guard lock(mu);
    return applied;
  }
  int fail_at = -1;
  int fail_times = 0;
  bool permanent = false;
  // While set, Write waits (holding the batch) until Unblock().
  void Block() {
    std::lock_guard lock(mu);
    blocked = true;
  }
  void Unblock() {
    {
      std::lock_guard lock(mu);
      blocked = false;
    }
    unblocked.notify_all();
  }
  std::atomic<int> writes{0};

 private:
  std::mutex mu;
  std::condition_variable unblocked;
  bool blocked = false;
  std::vector<uint64_t> applied;
};

struct Harness {
  ScriptedSource* source;
  std::vector<FakeSink*> sinks;
  std::unique_ptr<Pipeline> pipeline;
};

Harness Make(int batches, int num_sinks, PipelineLimits limits = {}) {
  Harness h;
  auto src = std::make_unique<ScriptedSource>(batches);
  h.source = src.get();
  std::vector<NamedSink> sinks;
  for (int i = 0; i < num_sinks; ++i) {
    auto s = std::make_unique<FakeSink>();
    h.sinks.push_back(s.get());
    sinks.push_back({"sink" + std::to_string(i), std::move(s)});
  }
  h.pipeline = std::make_unique<Pipeline>("p", std::move(src), std::move(sinks),
                                          std::vector<std::unique_ptr<Transform>>{}, limits);
  return h;
}

bool Eventually(const std::function<bool()>& cond) { return test::WaitFor(cond, seconds(5)); }

}  // namespace

TEST_CASE("Pipeline: every sink applies every batch in order, the last commit is confirmed",
          "[unit][pipeline]") {
  auto h = Make(50, 2);
  h.pipeline->Start();
  REQUIRE(Eventually([&] {
    auto c = h.source->Confirmed();
    return !c.empty() && c.back() == 500;
  }));
  for (auto* s : h.sinks) {
    auto applied = s->Applied();
    REQUIRE(applied.size() == 50);
    CHECK(std::is_sorted(applied.begin(), applied.end()));
  }
  auto confirmed = h.source->Confirmed();
  CHECK(std::is_sorted(confirmed.begin(), confirmed.end()));
  h.pipeline->RequestStop();
  CHECK(h.pipeline->Wait().ok());
}

TEST_CASE("Pipeline: a transient write failure is retried and nothing is confirmed past it",
          "[unit][pipeline]") {
  auto h = Make(10, 2);
  h.sinks[1]->fail_at = 5;
  h.sinks[1]->fail_times = 3;
  h.sinks[1]->Block();  // hold sink 1 so we can look at the confirms first
  h.pipeline->Start();
  REQUIRE(Eventually([&] { return h.sinks[0]->Applied().size() == 10; }));
  CHECK(h.source->Confirmed().empty());  // sink 1 made nothing durable yet
  h.sinks[1]->Unblock();
  REQUIRE(Eventually([&] {
    auto c = h.source->Confirmed();
    return !c.empty() && c.back() == 100;
  }));
  auto applied = h.sinks[1]->Applied();
  CHECK(applied.size() == 10);  // batch 5 applied once, after three refusals
  CHECK(std::is_sorted(applied.begin(), applied.end()));
  h.pipeline->RequestStop();
  CHECK(h.pipeline->Wait().ok());
}

TEST_CASE("Pipeline: a permanent sink error fails the pipeline without confirming past it",
          "[unit][pipeline]") {
  auto h = Make(10, 1);
  h.sinks[0]->fail_at = 4;
  h.sinks[0]->fail_times = 1;
  h.sinks[0]->permanent = true;
  h.pipeline->Start();
  Status s = h.pipeline->Wait();
  CHECK(s.code() == StatusCode::kInternal);
  CHECK(s.message() == "sink sink0: boom");
  for (uint64_t lsn : h.source->Confirmed()) CHECK(lsn <= 30);
}

TEST_CASE("Pipeline: a stalled sink fills the bounded queue and stops the source",
          "[unit][pipeline]") {
  auto h = Make(1000, 1, PipelineLimits{4, 1 << 20});
  h.sinks[0]->Block();
  h.pipeline->Start();
  REQUIRE(Eventually([&] { return h.source->waits > 0; }));  // the source is held back...
  int emitted = h.source->emitted;
  CHECK(emitted <= 4 + 2);  // ...with at most the queue, the batch in the sink, the one offered
  h.sinks[0]->Unblock();
  REQUIRE(Eventually([&] { return h.sinks[0]->Applied().size() == 1000; }));
  h.pipeline->RequestStop();
  CHECK(h.pipeline->Wait().ok());
}

}  // namespace sluice
