// The pipeline with a scripted source and fake sinks: ordering, retries, backpressure and
// the rule that nothing is confirmed past what every sink made durable.
#include "runtime/pipeline.h"

#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

namespace sluice {
namespace {

using std::chrono::milliseconds;

// Emits `batches` batches of one insert each, batch i carrying checkpoint LSN i*10; then
// waits for stop. Records what was confirmed.
class ScriptedSource : public Source {
 public:
  explicit ScriptedSource(int batches) : batches_(batches) {}
  Status Check() override { return Status::Ok(); }
  Status Run(BatchEmitter& out, const std::atomic<bool>& stop) override {
    auto table = std::make_shared<const TableId>(TableId{"s", "public", "t"});
    for (int i = 1; i <= batches_ && !stop; ++i) {
      Batch b;
      Change c;
      c.op = Op::kInsert;
      c.table = table;
      c.key = {{"id", Value::Of(ValueKind::kInt, std::to_string(i))}};
      c.after = c.key;
      c.position = Position{Lsn(static_cast<uint64_t>(i) * 10), 1};
      b.bytes = c.ApproxBytes();
      b.changes.push_back(std::move(c));
      b.checkpoint = Checkpoint{Lsn(static_cast<uint64_t>(i) * 10), 0};
      if (!out.Emit(std::move(b), [this] { ++waits; })) return Status::Cancelled("stop");
      emitted = i;
    }
    while (!stop) std::this_thread::sleep_for(milliseconds(2));
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
    while (blocked) std::this_thread::sleep_for(milliseconds(1));
    std::lock_guard lock(mu);
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
  std::atomic<bool> blocked{false};
  std::atomic<int> writes{0};

 private:
  std::mutex mu;
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

bool Eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 2500 && !cond(); ++i) std::this_thread::sleep_for(milliseconds(2));
  return cond();
}

}  // namespace

TEST_CASE("Pipeline: every sink applies every batch in order; the last commit is confirmed",
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
  h.sinks[1]->blocked = true;  // hold sink 1 so we can look at the confirms first
  h.pipeline->Start();
  REQUIRE(Eventually([&] { return h.sinks[0]->Applied().size() == 10; }));
  CHECK(h.source->Confirmed().empty());  // sink 1 made nothing durable yet
  h.sinks[1]->blocked = false;
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
  h.sinks[0]->blocked = true;
  h.pipeline->Start();
  REQUIRE(Eventually([&] { return h.source->waits > 0; }));  // the source is held back...
  int emitted = h.source->emitted;
  CHECK(emitted <= 4 + 2);  // ...with at most the queue, the batch in the sink, the one offered
  h.sinks[0]->blocked = false;
  REQUIRE(Eventually([&] { return h.sinks[0]->Applied().size() == 1000; }));
  h.pipeline->RequestStop();
  CHECK(h.pipeline->Wait().ok());
}

}  // namespace sluice
