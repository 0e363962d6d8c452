// The redis sink meeting keys that another program holds as a type the sink's format never
// writes (a list, set or hash where format json writes strings; a string where format hash
// writes hashes): the change goes to the dead letters naming the key, the key is left as it
// is, its position key too, and the rest of the batch is applied. Each test case owns a Redis
// database number (parallel ctest runs share the server).
#include <algorithm>
#include <set>

#include "integration/redis_sink_support.h"

namespace sluice::redis {
namespace {

using namespace test;  // this suite's helpers (redis_sink_support.h)

// Puts a key of `type` ("list", "set", "hash" or "string") at `key`, as another program would.
void Plant(RedisClient& c, const std::string& key, const std::string& type) {
  REQUIRE(c.Command({"DEL", key}).ok());
  if (type == "list") {
    REQUIRE(c.Command({"RPUSH", key, "theirs", "2"}).ok());
  } else if (type == "set") {
    REQUIRE(c.Command({"SADD", key, "theirs", "2"}).ok());
  } else if (type == "hash") {
    REQUIRE(c.Command({"HSET", key, "owner", "theirs", "n", "2"}).ok());
  } else {
    REQUIRE(c.Command({"SET", key, "theirs"}).ok());
  }
}

// `key` as "type: items", for comparing what another program holds before and after.
std::string Describe(RedisClient& c, const std::string& key) {
  auto t = c.Command({"TYPE", key});
  REQUIRE(t.ok());
  std::string type((*t)->str, (*t)->len);
  if (type == "none") return "none";
  if (type == "string") return "string: " + Get(c, key);
  std::vector<std::string_view> cmd = {"LRANGE", key, "0", "-1"};
  if (type == "set") cmd = {"SMEMBERS", key};
  if (type == "hash") cmd = {"HGETALL", key};
  auto r = c.Command(cmd);
  REQUIRE(r.ok());
  std::vector<std::string> items;
  for (size_t i = 0; i < (*r)->elements; ++i) {
    items.emplace_back((*r)->element[i]->str, (*r)->element[i]->len);
  }
  if (type == "set") std::sort(items.begin(), items.end());
  std::string out = type + ":";
  for (const std::string& s : items) out += " " + s;
  return out;
}

Change WithOp(Change c, Op op) {
  c.op = op;
  return c;
}

// An update of row `from` that moves it to key item:<to>.
Change Move(int from, int to, uint64_t lsn, uint64_t seq) {
  Change c = Upsert(to, ItemRow(to, "moved " + std::to_string(from)), lsn, seq);
  c.old_key = Row{{"id", Value::Of(ValueKind::kInt, std::to_string(from))}};
  return c;
}

std::string Key(int id) { return "item:" + std::to_string(id); }

// What the sink holds at item:<id> as the name column (json: the object text must be
// exactly the row's).
std::string StoredName(RedisClient& c, Format format, const Change& change) {
  std::string key = Key(std::stoi(change.key[0].value.text));
  if (format == Format::kJson) {
    return Get(c, key) == RowJson(*change.after) ? change.after->at(1).value.text : "<other>";
  }
  return HGetAll(c, key)["name"];
}

}  // namespace

TEST_CASE("RedisSink: a key of another type is left alone and only its change is dead-lettered",
          "[integration][redis]") {
  // format, the type another program holds; with and without ttl (without it, runs of plain
  // json upserts go the batched MGET/MSET way; with it, every change goes one at a time).
  const std::vector<std::pair<Format, std::string>> cases = {{Format::kJson, "list"},
                                                             {Format::kJson, "set"},
                                                             {Format::kJson, "hash"},
                                                             {Format::kHash, "string"}};
  auto [format, theirs] = cases[static_cast<size_t>(GENERATE(range(0, 4)))];
  bool ttl = GENERATE(false, true);
  INFO("format " << (format == Format::kJson ? "json" : "hash") << ", another program's " << theirs
                 << (ttl ? ", ttl" : ""));
  auto reader = Reader(22);
  CapturedLetters letters;
  RedisSinkOptions opts;
  if (ttl) opts.ttl = milliseconds(600000);
  auto sink = MakeSink(22, format, "item:{id}", &letters, opts);

  // The batched path (json without ttl) trusts a key whose position key holds a live
  // position (the sink wrote that value last); one change at a time checks that one too.
  const bool one_at_a_time = format == Format::kHash || ttl;
  // Rows the sink wrote (item:300 then deleted) before another program took their keys over.
  REQUIRE(sink->Write(MakeBatch(
                          1, {Upsert(300, ItemRow(300, "ours"), 0x100, 1),
                              Upsert(301, ItemRow(301, "ours"), 0x100, 2),
                              Upsert(302, ItemRow(302, "ours"), 0x100, 3),
                              Upsert(303, ItemRow(303, "ours"), 0x100, 4),
                              Upsert(306, ItemRow(306, "ours"), 0x100, 5), Delete(300, 0x180, 1)}))
              .ok());
  REQUIRE(letters.changes.empty());
  const std::string ours_303 = format == Format::kJson ? Get(*reader, Key(303)) : "";
  // Another program's keys, each named by the change that meets it: a snapshot row in a run
  // of 250, a streamed insert, an update (of a deleted row; of a live one), a delete, the old
  // and the new key of key-changing updates, a delete of a key the sink never wrote.
  std::map<int, int> rejected = {{120, 120}, {255, 255}, {300, 300}, {301, 301},
                                 {310, 302}, {304, 304}, {305, 305}};  // change -> key
  if (one_at_a_time) rejected[306] = 306;
  std::map<std::string, std::string> held;
  std::map<std::string, std::string> positions;
  for (int id : {120, 255, 300, 301, 302, 303, 304, 305, 306, 310}) {
    positions[Key(id)] = Get(*reader, PosKeyOf(Key(id)));
  }
  for (const auto& [change, key] : rejected) {
    Plant(*reader, Key(key), theirs);
    held[Key(key)] = Describe(*reader, Key(key));
  }
  // Keys of the type the format writes cannot be told from the sink's own: they are
  // written over (item:405 alone in its run of upserts, item:50 beside item:120).
  for (int id : {50, 405}) Plant(*reader, Key(id), format == Format::kJson ? "string" : "hash");

  std::vector<Change> changes;
  uint64_t seq = 0;
  for (int id = 1; id <= 250; ++id) {
    changes.push_back(WithOp(Upsert(id, ItemRow(id, "read"), 0x200, ++seq), Op::kRead));
  }
  for (int id = 251; id <= 260; ++id) {
    changes.push_back(WithOp(Upsert(id, ItemRow(id, "inserted"), 0x200, ++seq), Op::kInsert));
  }
  changes.push_back(Upsert(300, ItemRow(300, "updated"), 0x200, ++seq));
  if (one_at_a_time) changes.push_back(Upsert(306, ItemRow(306, "updated"), 0x200, ++seq));
  changes.push_back(Delete(301, 0x200, ++seq));
  changes.push_back(Move(302, 310, 0x200, ++seq));
  changes.push_back(Move(303, 304, 0x200, ++seq));
  changes.push_back(Delete(305, 0x200, ++seq));
  for (int id = 400; id < 410; ++id) {
    changes.push_back(Upsert(id, ItemRow(id, "after"), 0x200, ++seq));
  }
  Batch batch = MakeBatch(2, changes);
  REQUIRE(sink->Write(batch).ok());

  // Another program's keys are as it left them, and so are the positions of those changes.
  for (const auto& [key, before] : held) {
    INFO(key);
    CHECK(Describe(*reader, key) == before);
  }
  for (const auto& [key, before] : positions) {
    INFO(key);
    CHECK(Get(*reader, PosKeyOf(key)) == before);
  }
  // item:303 did not move to item:304.
  if (format == Format::kJson) {
    CHECK(Get(*reader, Key(303)) == ours_303);
  } else {
    CHECK(HGetAll(*reader, Key(303))["name"] == "ours");
  }

  // Each of those changes is a dead letter naming the key and its type.
  std::map<int, std::string> reasons;
  for (size_t i = 0; i < letters.changes.size(); ++i) {
    reasons[std::stoi(letters.changes[i].key[0].value.text)] = letters.reasons[i];
  }
  CHECK(letters.changes.size() == rejected.size());
  for (const auto& [change, key] : rejected) {
    INFO("the change of item:" << change << ": " << reasons[change]);
    CHECK(reasons[change].find("WRONGTYPE") != std::string::npos);
    CHECK(reasons[change].find(Key(key) + " is a " + theirs) != std::string::npos);
  }

  // Every other change landed.
  size_t landed = 0;
  for (const Change& c : batch.changes) {
    int id = std::stoi(c.key[0].value.text);
    if (rejected.count(id)) continue;
    INFO("item:" << id);
    CHECK(StoredName(*reader, format, c) == c.after->at(1).value.text);
    CHECK(Get(*reader, PosKeyOf(Key(id))) == PositionHex(c.position));
    ++landed;
  }
  CHECK(landed == 249 + 9 + 10);
  CHECK(sink->stats().applied == 6 + landed);
}

TEST_CASE("RedisSink: a truncate leaves a key that another program took over",
          "[integration][redis]") {
  auto format = GENERATE(Format::kJson, Format::kHash);
  const std::string theirs = format == Format::kJson ? "list" : "string";
  auto reader = Reader(23);
  CapturedLetters letters;
  auto sink = MakeSink(23, format, "item:{id}", &letters);
  std::vector<Change> rows;
  for (int id = 1; id <= 20; ++id) rows.push_back(Upsert(id, ItemRow(id, "n"), 0x100, id));
  REQUIRE(sink->Write(MakeBatch(1, rows)).ok());
  Plant(*reader, Key(7), theirs);
  const std::string held = Describe(*reader, Key(7));

  Change truncate;
  truncate.op = Op::kTruncate;
  truncate.table = kTable;
  truncate.position = {Lsn(0x200), 1};
  REQUIRE(sink->Write(MakeBatch(2, {truncate})).ok());
  CHECK(Describe(*reader, Key(7)) == held);
  // The table's entries are gone (the one taken over has no position left either): the
  // marker and another program's key remain.
  CHECK(Int(*reader, {"DBSIZE"}) == 2);
  CHECK(sink->stats().truncated == 19);
  CHECK(letters.changes.empty());
}

}  // namespace sluice::redis
