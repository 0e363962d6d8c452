// OffsetTracker: which Kafka offsets the source may commit. Each emitted batch gets a token
// and remembers, per partition, the offset after its last message; once the pipeline
// confirms a token (every sink made the batches up to it durable), those offsets become
// committable -- but only for partitions this member still owns, and never backwards.
// No librdkafka here, so the rules are unit-tested on their own.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace sluice::kafka {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads the defaulted comparison
  auto operator<=>(const TopicPartition&) const = default;
};

// Offset = the next offset to read (Kafka's committed-offset convention).
using OffsetMap = std::map<TopicPartition, int64_t>;

// Thread-safe: the source thread records, assigns, revokes and commits; sink threads confirm.
class OffsetTracker {
 public:
  // Partitions handed to this member by a rebalance.
  void Assign(const std::vector<TopicPartition>& partitions);
  // Partitions taken away. Their pending offsets are forgotten: a batch of theirs that
  // becomes durable later must not commit for the new owner (it could move it backwards).
  void Revoke(const std::vector<TopicPartition>& partitions);
  // Every partition, on shutdown or a lost assignment.
  void RevokeAll();

  // Before the batch with `token` is emitted. Tokens must increase.
  void Record(uint64_t token, const OffsetMap& offsets);
  // Every batch up to `token` is durable in every sink (a later token subsumes earlier ones).
  void Confirm(uint64_t token);

  // Durable offsets of owned partitions ahead of what was last committed.
  OffsetMap Committable() const;
  // `offsets` were committed (a commit that failed is simply not reported).
  void Committed(const OffsetMap& offsets);

  // Whether every recorded batch has been confirmed.
  bool AllConfirmed() const;
  uint64_t last_recorded() const;
  uint64_t confirmed() const;
  std::vector<TopicPartition> owned() const;

 private:
  void ApplyConfirmedLocked();

  mutable std::mutex mu_;
  std::set<TopicPartition> owned_;
  std::map<uint64_t, OffsetMap> pending_;  // token -> offsets, not yet confirmed
  OffsetMap durable_;                      // owned partitions: durable next offsets
  OffsetMap committed_;                    // what the brokers have from us
  uint64_t last_recorded_ = 0;
  uint64_t confirmed_ = 0;
};

}  // namespace sluice::kafka
