// redis sink: keeps a cache of each piped table in Redis, one key per row, as a JSON string
// or a hash, readable with any Redis client. Every batch is applied by one Lua script
// (redis_script.h) that refuses changes older than what Redis holds, so replays are
// harmless. A batch is durable once Redis has answered it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/dead_letters.h"
#include "core/registry.h"
#include "core/sink.h"
#include "sinks/redis/redis_builder.h"
#include "sinks/redis/redis_client.h"
#include "sinks/redis/redis_key.h"

namespace sluice::redis {

struct RedisSinkOptions {
  RedisUrl url;
  Format format = Format::kJson;
  std::chrono::milliseconds ttl{0};                   // 0: values do not expire
  std::chrono::milliseconds tombstone_ttl{86400000};  // 0: tombstones never expire
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds command_timeout{10000};
  size_t batch_changes = 200;  // changes per script call; 3 calls in flight
  size_t scan_count = 1000;    // SCAN COUNT while truncating
  std::string meta_prefix = "sluice:";
};

// Counters, for tests and logs. Read from the sink thread only.
struct RedisSinkStats {
  uint64_t applied = 0;        // changes the script applied
  uint64_t skipped = 0;        // changes older than what Redis held
  uint64_t dead_lettered = 0;  // changes sent to the dead-letter destination
  uint64_t partial = 0;        // upserts with an unchanged column that had nothing to merge
  uint64_t truncated = 0;      // entries removed by truncates
  uint64_t script_calls = 0;   // EVALSHA round trips
};

// The same counts in the daemon's metrics, labelled {pipeline, sink}.
struct RedisSinkMetrics {
  explicit RedisSinkMetrics(const MetricScope& scope);
  Counter& requests;       // script calls
  Counter& applied;        // items{result="applied"}
  Counter& skipped;        // items{result="already_applied"}: older than what Redis held
  Counter& partial;        // items{result="partial"}
  Counter& dead_lettered;  // dead letters
  Counter& truncated;      // keys removed by truncates
};

// Owned by its pipeline, used by one sink thread (Sink's contract). Owns its connection.
class RedisSink : public Sink {
 public:
  // `dead_letters` must outlive the sink; may be null only if nothing is ever rejected.
  RedisSink(std::string pipeline, std::string name, RedisSinkOptions options, KeyTemplate key,
            DeadLetters* dead_letters, const MetricScope& metrics = MetricScope());

  Status Open() override;
  Status Check() override;
  // Every column the key template names must be carried for every table.
  Status CheckSchema(const std::vector<TableSchema>& tables) override;
  // Applies the batch before returning (so Flush has nothing left to do): Ok means Redis
  // answered every script call. On Unavailable the part already answered is remembered,
  // and a retry of the same batch resumes after it.
  Status Write(const Batch& batch) override;
  Status Flush() override { return Status::Ok(); }
  bool WantsFlush() const override { return true; }
  // GET/HGETALL and the position keys; SCAN for a table's entries (redis_reader.cc).
  Result<std::unique_ptr<SinkReader>> Reader() override;

  const RedisSinkStats& stats() const { return stats_; }

 private:
  struct Chunk;
  Status EnsureReady();
  Status LoadScript();
  Status BuildKeys(const Change& change, RecordKeys* keys);
  static size_t TableNumber(Chunk& chunk, const TableId* table);
  // Applies changes [begin, end) (no truncates among them); `*done` is the first change not
  // yet applied when it fails.
  Status ApplyRange(const Batch& batch, size_t begin, size_t end, size_t* done);
  // Builds the script call for changes from `begin` (at most batch_changes records); sets
  // `*error` to a config mistake found on the way.
  void BuildChunk(const Batch& batch, size_t begin, size_t end, Chunk* chunk, Status* error);
  // Dead-letters what the script (reply `r`, null when nothing was sent) or the key
  // building rejected; an error reply of the whole call comes back as a Status.
  Status SettleChunk(const Batch& batch, const Chunk& chunk, redisReply* r);
  Status RunTruncate(const Change& change);
  Result<ReplyPtr> EvalSha(ArgList& args);
  Status DeadLetter(const Change& change, const std::string& reason);

  std::string pipeline_;
  std::string name_;
  RedisSinkOptions options_;
  KeyTemplate key_;
  DeadLetters* dead_letters_;
  RedisClient client_;
  std::string sha_;  // of the loaded script; empty until loaded
  // A Write that failed midway: retrying batch `resume_batch_` starts at change `resume_at_`.
  bool resume_pending_ = false;
  uint64_t resume_batch_ = 0;
  size_t resume_at_ = 0;
  RedisSinkStats stats_;
  RedisSinkMetrics metrics_;
};

void RegisterRedisSink(Registry& registry);

}  // namespace sluice::redis
