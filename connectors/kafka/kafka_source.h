// KafkaSource: a consumer-group member reading topics the kafka sink wrote (the `sluice` or
// `debezium` format) and handing their changes on with their original tables and positions.
// Offsets are committed only once every sink of the pipeline made the batches up to them
// durable (the pipeline's checkpoint coordinator confirms them); on a rebalance the source
// hands on what it holds, waits for it to become durable, commits, and only then lets its
// partitions go. Several daemons in one group split the partitions between them.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_envelope.h"
#include "connectors/kafka/offset_tracker.h"
#include "core/registry.h"
#include "core/source.h"
#include "wrappers/kafka/kafka_client.h"

namespace sluice::kafka {

struct KafkaSourceOptions {
  CommonOptions common;
  std::string group;                // group.id
  std::vector<std::string> topics;  // names, or regexes starting with '^'
  InputFormat format = InputFormat::kAuto;
  std::string start = "earliest";  // where a partition the group never committed starts
  std::chrono::milliseconds commit_interval{1000};
  std::chrono::milliseconds revoke_timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
  bool skip_bad_messages = false;  // false: a message that is not an envelope stops the pipeline
};

// What to subscribe to: the `topics` option, or else one topic per pipe selector --
// `log.shop.orders` reads topic "shop.orders", and a `*` part matches anything
// (`log.shop.*` reads every topic starting "shop."). InvalidArgument for `log.*` without
// `topics`, or for both at once.
Result<std::vector<std::string>> SubscriptionFor(const std::vector<TableSelector>& tables,
                                                 const std::vector<std::string>& topics);

// Run() and Shutdown() on the pipeline's source thread (librdkafka's rebalance and commit
// callbacks run there too, inside the consumer poll); Confirm() from sink threads.
class KafkaSource : public Source {
 public:
  KafkaSource(SourceContext ctx, KafkaSourceOptions options, std::vector<std::string> subscription);
  ~KafkaSource() override;

  Status Check() override;
  Status Run(BatchEmitter& out, const std::atomic<bool>& stop) override;
  void Confirm(const Checkpoint& checkpoint) override;
  void Shutdown() override;

 private:
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void OnCommit(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* offsets, void* opaque);
  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void Revoke(rd_kafka_topic_partition_list_t* partitions, bool cooperative);
  // Sets where each newly assigned partition starts: its committed offset, or `start`.
  void StartingOffsets(rd_kafka_topic_partition_list_t* partitions);
  Status EnsureConsumer();
  Status HandleMessage(const rd_kafka_message_t* msg);
  Status HandleError(const rd_kafka_message_t* msg);
  // Hands the batch being built on (with its offsets recorded); false when stopping.
  bool EmitBatch();
  void Commit(bool sync);
  void MaybeCommit();
  void Close();

  SourceContext ctx_;
  KafkaSourceOptions options_;
  std::vector<std::string> subscription_;
  ClientHooks hooks_;
  HandlePtr consumer_;
  OffsetTracker tracker_;
  EnvelopeParser parser_;

  // Source thread only.
  BatchEmitter* out_ = nullptr;              // set while Run() runs
  const std::atomic<bool>* stop_ = nullptr;  // likewise
  bool closing_ = false;
  Batch batch_;
  OffsetMap batch_offsets_;  // next offset per partition of the messages in batch_
  uint64_t next_token_ = 0;
  Lsn max_lsn_;
  std::chrono::steady_clock::time_point last_commit_;

  Counter& consumed_metric_;
  Counter& bad_metric_;
  Counter& commits_metric_;
  Counter& commit_errors_metric_;
  Counter& rebalances_metric_;
  Gauge& assigned_metric_;
};

void RegisterKafkaSource(Registry& registry);

}  // namespace sluice::kafka
