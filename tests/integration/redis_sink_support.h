// Helpers shared by the tests that drive the redis sink directly against the Redis that
// scripts/test starts: a sink on a database of its own, a plain client to look at it, and
// changes of the table src.public.items.
#pragma once

#include <hiredis/hiredis.h>

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sinks/redis/redis_sink.h"
#include "support/changes.h"
#include "support/test_env.h"

namespace sluice::redis::test {

using std::chrono::milliseconds;

struct CapturedLetters : DeadLetters {
  Status Write(const std::string&, const std::string&, const Change& change,
               const std::string& reason) override {
    std::lock_guard lock(mu);
    changes.push_back(change);
    reasons.push_back(reason);
    return Status::Ok();
  }
  std::mutex mu;
  std::vector<Change> changes;
  std::vector<std::string> reasons;
};

inline RedisUrl UrlForDb(int db) {
  auto u = RedisUrl::Parse(sluice::test::RequireEnv("SLUICE_TEST_REDIS_URL"));
  REQUIRE(u.ok());
  RedisUrl url = u.value();
  url.db = db;
  return url;
}

// A plain client on database `db`, emptied first.
inline std::unique_ptr<RedisClient> Reader(int db) {
  auto c = std::make_unique<RedisClient>(UrlForDb(db), milliseconds(2000), milliseconds(5000));
  REQUIRE(c->Connect().ok());
  REQUIRE(c->Command({"FLUSHDB"}).ok());
  return c;
}

inline std::string Get(RedisClient& c, const std::string& key) {
  auto r = c.Command({"GET", key});
  REQUIRE(r.ok());
  return (*r)->type == REDIS_REPLY_STRING ? std::string((*r)->str, (*r)->len) : "<nil>";
}

inline std::map<std::string, std::string> HGetAll(RedisClient& c, const std::string& key) {
  auto r = c.Command({"HGETALL", key});
  REQUIRE(r.ok());
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < (*r)->elements; i += 2) {
    out[(*r)->element[i]->str] = std::string((*r)->element[i + 1]->str, (*r)->element[i + 1]->len);
  }
  return out;
}

inline long long Int(RedisClient& c, const std::vector<std::string_view>& cmd) {
  auto r = c.Command(cmd);
  REQUIRE(r.ok());
  return (*r)->integer;
}

inline const std::shared_ptr<const TableId> kTable =
    std::make_shared<const TableId>(TableId{"src", "public", "items"});

// The position key the sink keeps beside `key` of kTable.
inline std::string PosKeyOf(const std::string& key) { return "sluice:pos:src.public.items:" + key; }

inline Change Upsert(int id, Row after, uint64_t lsn, uint64_t seq = 1) {
  return sluice::test::KeyedChange(Op::kUpdate, kTable, id, lsn, seq, std::move(after));
}

inline Row ItemRow(int id, const std::string& name, const std::string& body = "b") {
  return {{"id", sluice::test::IntValue(id)},
          {"name", sluice::test::StrValue(name)},
          {"body", sluice::test::StrValue(body)}};
}

inline Change Delete(int id, uint64_t lsn, uint64_t seq = 1) {
  return sluice::test::KeyedChange(Op::kDelete, kTable, id, lsn, seq);
}

inline Batch MakeBatch(uint64_t id, std::vector<Change> changes) {
  return sluice::test::MakeBatch(std::move(changes), id);
}

inline std::unique_ptr<RedisSink> MakeSink(int db, Format format, const std::string& key_template,
                                           DeadLetters* letters, RedisSinkOptions opts = {},
                                           const MetricScope& metrics = MetricScope()) {
  opts.url = UrlForDb(db);
  opts.format = format;
  auto key = KeyTemplate::Parse(key_template);
  REQUIRE(key.ok());
  auto sink = std::make_unique<RedisSink>("p", "cache", std::move(opts), std::move(key).value(),
                                          letters, metrics);
  REQUIRE(sink->Open().ok());
  return sink;
}

}  // namespace sluice::redis::test
