// The kafka sink and source driven in-process against librdkafka's mock cluster (no other
// server): delivery reports, injected broker errors, dead letters, offsets committed only
// once confirmed.
#include "sinks/kafka/kafka_sink.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "connectors/kafka/kafka_source.h"
#include "core/dead_letters.h"
#include "support/changes.h"
#include "support/kafka_mock.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct CapturedDeadLetters : DeadLetters {
  Status Write(const std::string&, const std::string&, const Change& change,
               const std::string& reason) override {
    std::lock_guard lock(mu);
    entries.push_back({change, reason});
    return Status::Ok();
  }
  std::mutex mu;
  std::vector<std::pair<Change, std::string>> entries;
};

std::shared_ptr<const TableId> Items() {
  static auto t = MakeTable("shop", "public", "items");
  return t;
}

Change Put(int id, const std::string& name, uint64_t lsn, uint64_t seq = 0) {
  return KeyedChange(Op::kInsert, Items(), id, lsn, seq,
                     Row{{"id", IntValue(id)}, {"name", StrValue(name)}});
}

Batch Changes(int first_lsn, int count, int keys = 50) {
  Batch b;
  static uint64_t next_id = 0;
  b.id = ++next_id;
  for (int i = 0; i < count; ++i) {
    b.changes.push_back(Put(i % keys, "v" + std::to_string(first_lsn + i),
                            static_cast<uint64_t>(first_lsn + i), 0));
  }
  return b;
}

Registry Plugins() {
  Registry r;
  kafka::RegisterKafkaSink(r);
  kafka::RegisterKafkaSource(r);
  return r;
}

std::unique_ptr<Sink> MakeSink(const KafkaMock& mock, std::map<std::string, std::string> opts,
                               DeadLetters* dl = nullptr) {
  static Registry registry = Plugins();
  const SinkPlugin* p = registry.FindSink("kafka");
  REQUIRE(p);
  opts["brokers"] = mock.bootstraps();
  SinkContext ctx;
  ctx.pipeline = "p";
  ctx.sink = "log";
  ctx.options = WithDefaults(p->options, std::move(opts));
  ctx.dead_letters = dl;
  auto sink = p->create(ctx);
  INFO(sink.status().ToString());
  REQUIRE(sink.ok());
  return std::move(sink).value();
}

// Flushes until Ok (the pipeline's retry loop, without its backoff).
Status FlushUntilDone(Sink& sink) {
  Status s;
  for (int i = 0; i < 50; ++i) {
    s = sink.Flush();
    if (s.code() != StatusCode::kUnavailable) return s;
  }
  return s;
}

// A pipeline stand-in for the source: keeps every batch, confirms nothing by itself.
struct CollectingEmitter : BatchEmitter {
  bool Emit(Batch&& batch, const std::function<void()>&) override {
    std::lock_guard lock(mu);
    changes += batch.changes.size();
    checkpoints.push_back(batch.checkpoint);
    for (auto& c : batch.changes) positions.push_back(c.position);
    return true;
  }
  size_t Count() {
    std::lock_guard lock(mu);
    return changes;
  }
  std::mutex mu;
  size_t changes = 0;
  std::vector<Checkpoint> checkpoints;
  std::vector<Position> positions;
};

}  // namespace

TEST_CASE("KafkaSink: keyed messages with position headers, durable once delivered",
          "[integration][kafka]") {
  KafkaMock mock;
  mock.CreateTopic("sink.items", 3);
  auto sink = MakeSink(mock, {{"topic", "sink.items"}});
  REQUIRE(sink->Open().ok());
  REQUIRE(sink->Write(Changes(100, 500)).ok());
  REQUIRE(FlushUntilDone(*sink).ok());
  auto& ks = dynamic_cast<kafka::KafkaSink&>(*sink);
  CHECK(ks.stats().delivered == 500);
  CHECK(ks.durable() == Position{Lsn(599), 0});
  auto records = mock.ReadAll("sink.items");
  REQUIRE(records.size() == 500);
  std::map<std::string, int32_t> partition_of_key;
  std::set<std::string> positions;
  for (const auto& r : records) {
    REQUIRE(r.key);
    REQUIRE(r.value);
    auto [it, fresh] = partition_of_key.emplace(*r.key, r.partition);
    CHECK(it->second == r.partition);  // one key, one partition
    auto v = nlohmann::json::parse(*r.value);
    CHECK(r.headers.at("sluice.lsn") == v["lsn"]);
    CHECK(r.headers.at("sluice.seq") == "0");
    CHECK(r.headers.at("sluice.op") == "insert");
    positions.insert(r.headers.at("sluice.lsn"));
  }
  CHECK(positions.size() == 500);
  CHECK(partition_of_key.size() == 50);
}

TEST_CASE("KafkaSink: broker errors during produce are retried, nothing lost or doubled",
          "[integration][kafka]") {
  KafkaMock mock;
  mock.CreateTopic("errs.items", 4);
  auto sink = MakeSink(
      mock,
      {{"topic", "errs.items"}, {"linger", "1ms"}, {"properties", kOneProduceRequestInFlight}});
  REQUIRE(sink->Open().ok());
  int lsn = 1000;
  for (int round = 0; round < 5; ++round) {
    mock.PushErrors(KafkaApi::kProduce, NotAppendedProduceErrors());
    REQUIRE(sink->Write(Changes(lsn, 400)).ok());
    lsn += 400;
    Status s = FlushUntilDone(*sink);
    INFO(s.ToString());
    REQUIRE(s.ok());
  }
  auto records = mock.ReadAll("errs.items");
  std::set<std::string> positions;
  for (const auto& r : records) positions.insert(r.headers.at("sluice.lsn"));
  CHECK(records.size() == 2000);
  CHECK(positions.size() == 2000);
}

TEST_CASE("KafkaSink: a message no broker takes is dead-lettered, the rest delivered",
          "[integration][kafka]") {
  KafkaMock mock;
  CapturedDeadLetters dl;
  auto sink =
      MakeSink(mock, {{"topic", "big.items"}, {"properties", "message.max.bytes=1000"}}, &dl);
  REQUIRE(sink->Open().ok());
  Batch b = Changes(10, 20);
  b.changes[5].after->at(1).value.text = std::string(5000, 'x');
  REQUIRE(sink->Write(b).ok());
  REQUIRE(FlushUntilDone(*sink).ok());
  REQUIRE(dl.entries.size() == 1);
  CHECK(dl.entries[0].first.position == b.changes[5].position);
  CHECK(dl.entries[0].second.find("MSG_SIZE_TOO_LARGE") != std::string::npos);
  CHECK(mock.ReadAll("big.items").size() == 19);
}

TEST_CASE("KafkaSink: unreachable brokers and bad properties are clear errors",
          "[integration][kafka]") {
  KafkaMock mock;
  SECTION("unreachable: Open is retriable") {
    static Registry registry = Plugins();
    const SinkPlugin* p = registry.FindSink("kafka");
    SinkContext ctx;
    ctx.pipeline = "p";
    ctx.sink = "log";
    ctx.options = WithDefaults(p->options, {{"brokers", "127.0.0.1:1"}, {"connect_timeout", "1s"}});
    auto nowhere = p->create(ctx);
    REQUIRE(nowhere.ok());
    Status s = (*nowhere)->Open();
    CHECK(s.code() == StatusCode::kUnavailable);
    CHECK(s.message().find("127.0.0.1:1") != std::string::npos);
  }
  SECTION("an unknown librdkafka property names itself") {
    auto sink = MakeSink(mock, {{"properties", "no.such.property=1"}});
    Status s = sink->Open();
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("no.such.property") != std::string::npos);
  }
  SECTION("a secret property's value is never in the message") {
    auto sink = MakeSink(mock, {{"properties", "sasl.password=hunter2, acks=banana"}});
    Status s = sink->Open();
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("hunter2") == std::string::npos);
  }
}

TEST_CASE("KafkaSource: changes come back with their positions, offsets commit once confirmed",
          "[integration][kafka]") {
  KafkaMock mock;
  mock.CreateTopic("src.items", 4);
  auto sink = MakeSink(mock, {{"topic", "src.items"}});
  REQUIRE(sink->Open().ok());
  REQUIRE(sink->Write(Changes(5000, 300)).ok());
  REQUIRE(FlushUntilDone(*sink).ok());

  static Registry registry = Plugins();
  const SourcePlugin* p = registry.FindSource("kafka");
  SourceContext ctx;
  ctx.pipeline = "readback";
  ctx.source = "bus";
  ctx.tables = {{"src", "items"}};
  ctx.batch_max_changes = 50;
  ctx.options = WithDefaults(p->options, {{"brokers", mock.bootstraps()},
                                          {"commit_interval", "50ms"},
                                          {"properties", "session.timeout.ms=6000"}});
  auto source = p->create(ctx);
  INFO(source.status().ToString());
  REQUIRE(source.ok());
  CollectingEmitter out;
  std::atomic<bool> stop{false};
  Status result;
  std::thread runner([&] { result = (*source)->Run(out, stop); });
  REQUIRE(WaitFor([&] { return out.Count() == 300; }, seconds(30)));
  {
    std::lock_guard lock(out.mu);
    std::set<Position> seen(out.positions.begin(), out.positions.end());
    CHECK(seen.size() == 300);
    CHECK(*seen.begin() == Position{Lsn(5000), 0});
    CHECK(*seen.rbegin() == Position{Lsn(5299), 0});
  }
  // Nothing confirmed: nothing committed, however long we wait.
  WaitFor([] { return false; }, milliseconds(300));
  for (auto& [partition, offset] : mock.Committed("sluice.readback", "src.items")) {
    CHECK(offset < 0);
  }
  // Confirm everything: every partition's offset reaches its end.
  Checkpoint last;
  {
    std::lock_guard lock(out.mu);
    last = out.checkpoints.back();
  }
  (*source)->Confirm(last);
  bool committed = WaitFor(
      [&] {
        int64_t total = 0;
        for (auto& [partition, offset] : mock.Committed("sluice.readback", "src.items")) {
          total += std::max<int64_t>(offset, 0);
        }
        return total == 300;
      },
      seconds(20));
  CHECK(committed);
  stop = true;
  runner.join();
  CHECK(result.code() == StatusCode::kCancelled);
  (*source)->Shutdown();
}

}  // namespace sluice::test
