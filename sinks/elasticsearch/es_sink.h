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
#include "sinks/elasticsearch/es_request_thread.h"

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
//
// Write() sends each full _bulk request as soon as it has one, and returns while the cluster
// works on it, so the next request is built meanwhile. One request is in flight at a time:
// the next goes out only after the answer to the previous one is settled, so two changes of
// one document are never in flight at once, and an item to send again is collapsed with any
// newer change of its document (Rebuild). Flush() sends the rest and waits for every answer.
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
  // Buffers `item`, or collapses it into the buffered item of its document.
  void Add(BulkItem item);
  // Where the _bulk request starting at pending_[begin] ends: bulk_actions items or
  // bulk_bytes, and never past a truncate.
  size_t ChunkEnd(size_t begin) const;
  // The NDJSON body of `items` (creating their indexes first).
  Result<std::string> BulkBody(const Pending* items, size_t n);
  // Sends every full request at the front of pending_, one in flight at a time.
  Status SendFull();
  // Waits for the request in flight and settles its answer; its items to send again go
  // back to the front of pending_, and the result is then Unavailable.
  Status FinishInFlight();
  // Settles the answer `r` to a _bulk of `items`: counts them, dead-letters rejected ones
  // and moves those to send again into `keep`, in order. Unavailable when the request as a
  // whole failed: then none of them is settled or moved, and the caller keeps them all.
  // Other errors stop the pipeline.
  Status Settle(std::vector<Pending>& items, Result<HttpResponse> r, std::vector<Pending>* keep,
                std::string* last_error);
  Status Reject(const Change& change, const std::string& reason);
  Status IndexDeadLetter(const Change& change, const std::string& reason);
  Status RunTruncate(const Pending& p);
  void Rebuild(std::vector<Pending> remaining);

  SinkContext ctx_;
  EsSinkOptions options_;
  std::unique_ptr<EsClient> client_;       // index set-up, truncates, dead-letter index
  std::unique_ptr<EsRequestThread> bulk_;  // every _bulk of the changes
  std::vector<Pending> in_flight_;         // the items of the request bulk_ has in flight
  // Requests sent by Write() since the last Flush(): Flush() is asked for after a few, so
  // that what is durable is reported (and confirmed to the source) while the queue is busy.
  size_t sent_since_flush_ = 0;
  // An answer left items to send again: Write() sends nothing more, Flush() (retried by the
  // pipeline with backoff) takes over.
  bool retry_ = false;
  std::vector<Pending> pending_;
  // _id -> place in pending_ of the newest item for that document (the _id in its index)
  // after the last truncate: a newer change of a document replaces the buffered one
  // (collapse). Keyed by _id alone, which is short and rarely allocates, unlike _id + index.
  std::unordered_multimap<std::string, size_t> slots_;
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
