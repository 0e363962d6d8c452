// elasticsearch / opensearch sink: each change becomes a _bulk action versioned by its commit
// LSN (version_type=external_gte), so replays and older writes are harmless; per-item answers
// decide success, retry of just the failed items, or the dead-letter path.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/registry.h"
#include "core/sink.h"
#include "sinks/elasticsearch/es_builder.h"
#include "sinks/elasticsearch/es_client.h"
#include "sinks/elasticsearch/es_options.h"

namespace sluice::es {

// Counters, read by tests and logs. Only the sink thread writes them.
struct EsSinkStats {
  uint64_t bulk_requests = 0;
  uint64_t applied = 0;          // items the cluster accepted (index, delete, delete of nothing)
  uint64_t already_applied = 0;  // 409: a newer version was stored
  uint64_t collapsed = 0;        // items replaced by a newer change of the same document
  uint64_t retried = 0;          // items answered 429/5xx (or lost with their request)
  uint64_t dead_lettered = 0;
  uint64_t truncates = 0;
};

// The same counts in the daemon's metrics, labelled {pipeline, sink}: requests, items by
// result (applied, already_applied = 409, collapsed), item retries, dead letters, truncates.
struct EsSinkMetrics {
  explicit EsSinkMetrics(const MetricScope& scope);
  Counter& requests;
  Counter& applied;
  Counter& already_applied;
  Counter& collapsed;
  Counter& retried;
  Counter& dead_lettered;
  Counter& truncates;
};

// Owned by its pipeline, used by the pipeline's sink thread only.
class EsSink : public Sink {
 public:
  EsSink(SinkContext context, EsSinkOptions options);

  Status Open() override;
  Status Check() override;
  // With `toast: fail`, refuses tables whose updates may leave TOAST columns unchanged.
  Status CheckSchema(const std::vector<TableSchema>& tables) override;
  Status Write(const Batch& batch) override;
  Status Flush() override;
  bool WantsFlush() const override;
  // _mget by _id and a scroll over the index (es_reader.cc).
  Result<std::unique_ptr<SinkReader>> Reader() override;

  const EsSinkStats& stats() const { return stats_; }
  size_t pending() const { return pending_.size(); }

 private:
  // A buffered bulk item, or a truncate of `index`, which is a barrier: everything before it
  // is applied first, nothing after it is collapsed into what came before.
  struct Pending {
    bool truncate = false;
    BulkItem item;  // for a truncate: index and change only
  };

  Status Connect();
  Status EnsureIndex(const std::string& index);
  Status Add(BulkItem item);
  Status Reject(const Change& change, const std::string& reason);
  Status IndexDeadLetter(const Change& change, const std::string& reason);
  // Sends pending_[begin, end) (bulk items only) as one _bulk; moves the items to retry
  // into `keep`. Returns Unavailable when the whole request failed (nothing applied).
  Status SendBulk(size_t begin, size_t end, std::vector<Pending>* keep, std::string* last_error);
  Status RunTruncate(const Pending& p);
  void Rebuild(std::vector<Pending> remaining);

  SinkContext ctx_;
  EsSinkOptions options_;
  std::unique_ptr<EsClient> client_;
  std::vector<Pending> pending_;
  // (index, _id) -> place in pending_ of the newest item for that document after the last
  // truncate: a newer change of a document replaces the buffered one (collapse).
  std::unordered_map<std::string, size_t> slots_;
  size_t pending_bytes_ = 0;
  std::set<std::string> ensured_;  // indexes known to exist
  EsSinkStats stats_;
  EsSinkMetrics metrics_;
};

void RegisterElasticsearchSink(Registry& registry);

}  // namespace sluice::es

namespace sluice {
using es::RegisterElasticsearchSink;
}  // namespace sluice
