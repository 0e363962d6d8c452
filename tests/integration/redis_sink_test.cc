// The redis sink driven directly (no binary) against the Redis that scripts/test starts:
// replays, TOAST merges, key changes, dead letters, truncate, ttl, credentials.
// Each test case owns a Redis database number (parallel ctest runs share the server).
#include <random>

#include "integration/redis_sink_support.h"

namespace sluice::redis {
namespace {

using namespace test;  // this suite's helpers (redis_sink_support.h)
using sluice::test::WaitFor;

// Every key with its type and value (strings as is, hashes as sorted field=value lists).
std::map<std::string, std::string> Dump(RedisClient& c) {
  std::map<std::string, std::string> out;
  auto keys = c.Command({"KEYS", "*"});
  REQUIRE(keys.ok());
  for (size_t i = 0; i < (*keys)->elements; ++i) {
    std::string k((*keys)->element[i]->str, (*keys)->element[i]->len);
    auto type = c.Command({"TYPE", k});
    REQUIRE(type.ok());
    if (std::string((*type)->str) == "hash") {
      std::string v;
      for (auto& [f, x] : HGetAll(c, k)) v += f + "=" + x + ";";
      out[k] = "hash:" + v;
    } else {
      out[k] = Get(c, k);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("RedisSink: an older batch after a newer one, and the same batch twice, change nothing",
          "[integration][redis]") {
  auto format = GENERATE(Format::kJson, Format::kHash);
  int db = format == Format::kJson ? 1 : 2;
  auto reader = Reader(db);
  CapturedLetters letters;
  MetricsRegistry metrics;
  auto sink = MakeSink(db, format, "item:{id}", &letters, {}, MetricScope(&metrics, {}));

  Batch older =
      MakeBatch(1, {Upsert(1, ItemRow(1, "one"), 0x100, 1), Upsert(2, ItemRow(2, "two"), 0x100, 2),
                    Upsert(3, ItemRow(3, "three"), 0x100, 3)});
  Batch newer = MakeBatch(2, {Upsert(1, ItemRow(1, "one v2"), 0x200, 1), Delete(2, 0x200, 2),
                              Upsert(4, ItemRow(4, "four"), 0x200, 3)});
  REQUIRE(sink->Write(older).ok());
  REQUIRE(sink->Write(newer).ok());
  auto state = Dump(*reader);
  if (format == Format::kJson) {
    CHECK(state["item:1"] == R"({"id":1,"name":"one v2","body":"b"})");
  } else {
    CHECK(state["item:1"] == "hash:body=b;id=1;name=one v2;");
  }
  CHECK(state.count("item:2") == 0);
  CHECK(state.count("sluice:pos:src.public.items:item:2") == 1);  // the tombstone
  CHECK(Int(*reader, {"PTTL", "sluice:pos:src.public.items:item:2"}) > 0);
  CHECK(Int(*reader, {"PTTL", "sluice:pos:src.public.items:item:1"}) == -1);

  uint64_t applied = sink->stats().applied;
  REQUIRE(sink->Write(older).ok());  // a replay of an older batch
  CHECK(Dump(*reader) == state);
  // item:1 and item:2 hold newer positions; item:3's equal position re-applies the same value.
  CHECK(sink->stats().applied == applied + 1);
  CHECK(sink->stats().skipped == 2);
  // The metrics count the same.
  auto metric = [&](const std::string& name, const MetricLabels& labels) {
    for (const MetricSample& m : metrics.Collect()) {
      if (m.name == name && m.labels == labels) return m.value;
    }
    return -1.0;
  };
  CHECK(metric("sluice_sink_items_total", {{"result", "applied"}}) ==
        static_cast<double>(sink->stats().applied));
  CHECK(metric("sluice_sink_items_total", {{"result", "already_applied"}}) == 2);
  CHECK(metric("sluice_sink_requests_total", {}) ==
        static_cast<double>(sink->stats().script_calls));
  REQUIRE(sink->Write(newer).ok());  // the same batch again
  CHECK(Dump(*reader) == state);

  // A server that forgot the script (restart, SCRIPT FLUSH) gets it again.
  REQUIRE(reader->Command({"SCRIPT", "FLUSH"}).ok());
  REQUIRE(sink->Write(MakeBatch(3, {Upsert(3, ItemRow(3, "three v3"), 0x300, 1)})).ok());
  if (format == Format::kJson) {
    CHECK(Get(*reader, "item:3").find("three v3") != std::string::npos);
  } else {
    CHECK(HGetAll(*reader, "item:3")["name"] == "three v3");
  }
  CHECK(letters.changes.empty());
}

TEST_CASE("RedisSink: upserts applied in runs end as if applied one at a time",
          "[integration][redis]") {
  // Runs of plain upserts go to Redis as one MGET and one MSET; deletes, replays, positions
  // going back, repeated keys and runs longer than the script's 1,000-record chunk must end
  // exactly as the one-change-at-a-time rule says: a change applies unless its key (or a
  // tombstone for it) holds a newer position.
  auto reader = Reader(21);
  CapturedLetters letters;
  RedisSinkOptions opts;
  opts.batch_changes = 2500;
  auto sink = MakeSink(21, Format::kJson, "item:{id}", &letters, opts);
  struct Entry {
    std::string pos;  // as stored: 32 hex digits, plus "d" for a tombstone
    std::string value;
  };
  std::map<int, Entry> model;
  std::mt19937 rng(20261124);
  uint64_t lsn = 0x1000;
  // What Redis must hold after each batch.
  auto check = [&](uint64_t batch) {
    for (const auto& [id, e] : model) {
      std::string pk = "sluice:pos:src.public.items:item:" + std::to_string(id);
      INFO("batch " << batch << ", item " << id);
      REQUIRE(Get(*reader, "item:" + std::to_string(id)) == e.value);
      REQUIRE(Get(*reader, pk) == e.pos);
      // A position written over a tombstone does not keep the tombstone's expiry.
      if (e.pos.size() == 32) REQUIRE(Int(*reader, {"PTTL", pk}) == -1);
    }
  };
  for (uint64_t b = 1; b <= 40; ++b) {
    std::vector<Change> changes;
    size_t n = 1 + rng() % 2200;
    for (size_t i = 0; i < n; ++i) {
      int id = static_cast<int>(1 + rng() % 60);
      // Mostly forward; now and then a position from the recent past (a replay).
      uint64_t at = rng() % 10 == 0 ? lsn - rng() % 100 : ++lsn;
      Change c = rng() % 40 == 0 ? Delete(id, at, 0)
                                 : Upsert(id, ItemRow(id, "v" + std::to_string(at)), at, 0);
      std::string pos = PositionHex(c.position);
      Entry& e = model[id];
      if (e.pos.empty() || !(pos < e.pos)) {
        e.pos = c.op == Op::kDelete ? pos + "d" : pos;
        e.value = c.op == Op::kDelete ? "<nil>" : RowJson(*c.after);
      }
      changes.push_back(std::move(c));
    }
    REQUIRE(sink->Write(MakeBatch(b, std::move(changes))).ok());
    check(b);
  }
  CHECK(letters.changes.empty());
  CHECK(sink->stats().partial == 0);
}

TEST_CASE("RedisSink: unchanged TOAST columns keep the stored value, also across a key change",
          "[integration][redis]") {
  auto format = GENERATE(Format::kJson, Format::kHash);
  int db = format == Format::kJson ? 3 : 4;
  auto reader = Reader(db);
  CapturedLetters letters;
  auto sink = MakeSink(db, format, "", &letters);
  // A stored body full of things a naive scanner trips over.
  std::string tricky = R"(a "quoted" {brace} [bracket] \ back, "body": x)";
  Row first = {
      {"id", Value::Of(ValueKind::kInt, "1")},
      {"doc", Value::Of(ValueKind::kJson, R"({"n": 12345678901234567890, "e": [], "s": "}"})")},
      {"body", Value::Of(ValueKind::kString, tricky)},
      {"qty", Value::Of(ValueKind::kInt, "1")}};
  REQUIRE(sink->Write(MakeBatch(1, {Upsert(1, first, 0x100)})).ok());
  std::string stored = format == Format::kJson ? Get(*reader, "items:1") : "";

  Row update = {{"id", Value::Of(ValueKind::kInt, "1")},
                {"doc", Value::Unchanged()},
                {"body", Value::Unchanged()},
                {"qty", Value::Of(ValueKind::kInt, "2")}};
  REQUIRE(sink->Write(MakeBatch(2, {Upsert(1, update, 0x200)})).ok());
  if (format == Format::kJson) {
    auto v = Get(*reader, "items:1");
    // Members come back byte for byte (numbers not rounded, [] not turned into {}).
    CHECK(v == R"({"id":1,"qty":2,"doc":{"n": 12345678901234567890, "e": [], "s": "}"},)"
               R"("body":"a \"quoted\" {brace} [bracket] \\ back, \"body\": x"})");
  } else {
    auto h = HGetAll(*reader, "items:1");
    CHECK(h["qty"] == "2");
    CHECK(h["body"] == tricky);
    CHECK(h["doc"] == R"({"n": 12345678901234567890, "e": [], "s": "}"})");
  }

  // The key changes (id 1 -> 5) in the same update that leaves body unchanged.
  Change moved = Upsert(5, update, 0x300);
  moved.after->at(0).value.text = "5";
  moved.old_key = Row{{"id", Value::Of(ValueKind::kInt, "1")}};
  REQUIRE(sink->Write(MakeBatch(3, {moved})).ok());
  CHECK(Int(*reader, {"EXISTS", "items:1"}) == 0);
  if (format == Format::kJson) {
    CHECK(Get(*reader, "items:5").find(R"("body":"a \"quoted\")") != std::string::npos);
  } else {
    CHECK(HGetAll(*reader, "items:5")["body"] == tricky);
  }
  // A late replay of the first insert cannot bring the old key back (tombstone).
  REQUIRE(sink->Write(MakeBatch(4, {Upsert(1, first, 0x100)})).ok());
  CHECK(Int(*reader, {"EXISTS", "items:1"}) == 0);
  CHECK(sink->stats().partial == 0);
  CHECK(letters.changes.empty());
}

TEST_CASE("RedisSink: a change Redis rejects goes to the dead letters and the batch goes on",
          "[integration][redis]") {
  auto reader = Reader(5);
  CapturedLetters letters;
  auto sink = MakeSink(5, Format::kJson, "item:{id}", &letters);
  // Someone else owns the position key of item:2 as a hash.
  REQUIRE(reader->Command({"HSET", "sluice:pos:src.public.items:item:2", "x", "y"}).ok());
  Row null_key = ItemRow(9, "x");
  Change bad_key = Upsert(9, null_key, 0x100, 4);
  bad_key.key = {{"id", Value::Null()}};
  REQUIRE(sink->Write(MakeBatch(1, {Upsert(1, ItemRow(1, "one"), 0x100, 1),
                                    Upsert(2, ItemRow(2, "two"), 0x100, 2),
                                    Upsert(3, ItemRow(3, "three"), 0x100, 3), bad_key}))
              .ok());
  CHECK(Get(*reader, "item:1") != "<nil>");
  CHECK(Get(*reader, "item:3") != "<nil>");
  REQUIRE(letters.changes.size() == 2);
  CHECK(letters.reasons[0].find("WRONGTYPE") != std::string::npos);
  CHECK(letters.changes[0].key[0].value.text == "2");
  CHECK(letters.reasons[1].find("NULL") != std::string::npos);
}

TEST_CASE("RedisSink: truncate removes older entries of that table only, in SCAN steps",
          "[integration][redis]") {
  auto reader = Reader(6);
  CapturedLetters letters;
  RedisSinkOptions opts;
  opts.scan_count = 50;
  opts.batch_changes = 300;
  auto sink = MakeSink(6, Format::kHash, "", &letters, opts);
  auto other = std::make_shared<const TableId>(TableId{"src", "public", "other"});
  std::vector<Change> rows;
  for (int i = 1; i <= 1200; ++i) rows.push_back(Upsert(i, ItemRow(i, "n"), 0x100, i));
  Change keep = Upsert(1, ItemRow(1, "other"), 0x100, 5000);
  keep.table = other;
  rows.push_back(keep);
  REQUIRE(sink->Write(MakeBatch(1, rows)).ok());
  REQUIRE(Int(*reader, {"DBSIZE"}) == 2 * 1201);

  Change truncate;
  truncate.op = Op::kTruncate;
  truncate.table = kTable;
  truncate.position = {Lsn(0x200), 2};
  // In one batch: a change before the truncate (removed), one after it (kept).
  REQUIRE(sink->Write(MakeBatch(2, {Upsert(7, ItemRow(7, "before"), 0x200, 1), truncate,
                                    Upsert(8, ItemRow(8, "after"), 0x200, 3)}))
              .ok());
  CHECK(sink->stats().truncated == 1200);
  CHECK(Int(*reader, {"EXISTS", "items:7"}) == 0);
  CHECK(HGetAll(*reader, "items:8")["name"] == "after");
  CHECK(HGetAll(*reader, "other:1")["name"] == "other");
  // marker + items:8 + its position + other:1 + its position
  CHECK(Int(*reader, {"DBSIZE"}) == 5);
  // A replay of the snapshot cannot bring truncated rows back.
  REQUIRE(sink->Write(MakeBatch(1, rows)).ok());
  CHECK(Int(*reader, {"DBSIZE"}) == 5);
}

TEST_CASE("RedisSink: ttl expires values, positions and tombstones have their own time",
          "[integration][redis]") {
  auto reader = Reader(7);
  CapturedLetters letters;
  RedisSinkOptions opts;
  opts.ttl = milliseconds(300);
  opts.tombstone_ttl = milliseconds(60000);
  auto sink = MakeSink(7, Format::kJson, "item:{id}", &letters, opts);
  REQUIRE(sink->Write(MakeBatch(1, {Upsert(1, ItemRow(1, "one"), 0x100)})).ok());
  auto pttl = Int(*reader, {"PTTL", "item:1"});
  CHECK(pttl > 0);
  CHECK(pttl <= 300);
  CHECK(Int(*reader, {"PTTL", "sluice:pos:src.public.items:item:1"}) > 300);
  CHECK(WaitFor([&] { return Int(*reader, {"EXISTS", "item:1"}) == 0; }, milliseconds(5000)));
  // Each change starts the time again.
  REQUIRE(sink->Write(MakeBatch(2, {Upsert(1, ItemRow(1, "again"), 0x200)})).ok());
  CHECK(Int(*reader, {"PTTL", "item:1"}) > 0);
}

TEST_CASE("RedisSink: wrong password, unknown user or database are config errors",
          "[integration][redis]") {
  auto admin = Reader(8);
  REQUIRE(admin->Command({"ACL", "SETUSER", "it_redis_user", "on", ">right", "~*", "&*", "+@all"})
              .ok());
  auto open = [](RedisUrl url) {
    RedisSinkOptions opts;
    opts.url = std::move(url);
    RedisSink sink("p", "cache", opts, KeyTemplate::Parse("").value(), nullptr);
    return sink.Check();
  };
  RedisUrl url = UrlForDb(8);
  url.user = "it_redis_user";
  url.password = "right";
  CHECK(open(url).ok());
  url.password = "wrong";
  Status s = open(url);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("refused the credentials of user it_redis_user") != std::string::npos);
  CHECK(s.message().find("wrong") == std::string::npos);  // the password is never printed
  RedisUrl bad_db = UrlForDb(999);
  s = open(bad_db);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("cannot select database 999") != std::string::npos);
  RedisUrl nobody = UrlForDb(8);
  nobody.host = "127.0.0.1";
  nobody.port = 1;
  CHECK(open(nobody).code() == StatusCode::kUnavailable);
}

}  // namespace sluice::redis
