// kafka sink: writes each change as a message to a topic per table, keyed by the table key
// (so one key's changes stay in one partition, in order), valued with the `sluice` line
// format or a Debezium-compatible event, with the position and op in headers. The producer
// is idempotent (enable.idempotence, acks=all). A message counts only once its delivery
// report says the brokers have it; Flush() waits for every report.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/dead_letters.h"
#include "core/registry.h"
#include "core/sink.h"
#include "sinks/kafka/kafka_builder.h"
#include "wrappers/kafka/kafka_client.h"

namespace sluice::kafka {

struct KafkaSinkOptions {
  CommonOptions common;
  TopicTemplate topic;
  BuildOptions build;
  std::string compression = "none";
  std::chrono::milliseconds linger{5};
  size_t max_in_flight = 100000;  // messages awaiting a report before WantsFlush()
  std::chrono::milliseconds flush_timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
};

// Counters, for tests and logs. Read from the sink thread only.
struct KafkaSinkStats {
  uint64_t produced = 0;       // messages handed to librdkafka (re-sends included)
  uint64_t delivered = 0;      // successful delivery reports
  uint64_t resent = 0;         // messages produced again after a failed report
  uint64_t dead_lettered = 0;  // changes sent to the dead-letter destination
};

// Owned by its pipeline, used by one sink thread (Sink's contract); librdkafka's delivery
// reports are served on that thread too (rd_kafka_poll/flush). Owns its producer.
class KafkaSink : public Sink {
 public:
  KafkaSink(SinkContext ctx, KafkaSinkOptions options);
  ~KafkaSink() override;

  Status Open() override;
  Status Check() override;
  // Produces every message of the batch (copying them into librdkafka's queue). When that
  // queue stays full, returns Unavailable and a retry of the same batch resumes where it
  // stopped, so no message is produced twice.
  Status Write(const Batch& batch) override;
  // Ok once every produced message has a successful delivery report or, for a message the
  // brokers can never take (too large, invalid), is in the dead letters. Messages whose
  // report failed for a retriable reason are produced again.
  Status Flush() override;
  bool WantsFlush() const override { return in_flight_.size() >= options_.max_in_flight; }

  const KafkaSinkStats& stats() const { return stats_; }
  // The highest position below which every message has a successful delivery report.
  Position durable() const { return durable_; }

 private:
  // A produced message still waiting for its report; in produce order.
  struct InFlight {
    std::shared_ptr<const TableId> table;
    Position position;
    Op op = Op::kInsert;
    uint32_t xid = 0;
    int64_t commit_time_us = 0;
    bool done = false;
  };
  // A message to produce again: its report failed with a retriable error.
  struct Resend {
    uint64_t seq = 0;
    rd_kafka_topic_t* topic = nullptr;
    int32_t partition = 0;
    std::string key;
    std::string value;
    bool has_key = false;
    bool tombstone = false;
  };
  // A message the brokers refused for good: dead-letter its change.
  struct Failure {
    uint64_t seq = 0;
    std::string key;
    std::string reason;
  };
  struct TopicEntry {
    std::shared_ptr<const TableId> hold;  // keeps the map key's address from being reused
    TopicPtr topic;
    std::string name;
    int32_t partitions = 0;  // learnt on the first truncate
  };
  // Where a Write that returned Unavailable stopped.
  struct Cursor {
    uint64_t batch = 0;
    size_t change = 0;
    size_t message = 0;
    int32_t partition = 0;
  };

  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  void Delivered(const rd_kafka_message_t* msg);
  Status EnsureProducer();
  Result<TopicEntry*> TopicFor(const std::shared_ptr<const TableId>& table);
  Result<int32_t> PartitionCount(TopicEntry& entry);
  // Produces one message; Unavailable when librdkafka's queue stayed full for a while.
  Status Produce(rd_kafka_topic_t* topic, int32_t partition, std::string_view key, bool has_key,
                 const std::string* value, uint64_t seq);
  Status ProduceChange(const Change& change, Cursor& cursor);
  Status ResendFailed();
  Status HandleFailures();
  Status DeadLetter(const Change& change, const std::string& reason);
  Status StopStatus();
  void PopDelivered();

  SinkContext ctx_;
  KafkaSinkOptions options_;
  ClientHooks hooks_;
  HandlePtr producer_;
  std::unordered_map<const TableId*, TopicEntry> topics_;
  std::deque<InFlight> in_flight_;
  uint64_t first_seq_ = 0;  // seq of in_flight_.front()
  uint64_t next_seq_ = 0;
  std::vector<Resend> resends_;
  std::vector<Failure> failures_;
  Status stop_;  // first non-retriable delivery error: the pipeline stops
  bool resume_pending_ = false;
  Cursor resume_;
  MessageList scratch_;
  Position durable_;
  KafkaSinkStats stats_;

  Counter& produced_metric_;
  Counter& delivered_metric_;
  Counter& resent_metric_;
  Counter& dead_letter_metric_;
  Gauge& in_flight_metric_;
  Gauge& durable_metric_;
};

void RegisterKafkaSink(Registry& registry);

}  // namespace sluice::kafka
