// Pure payload building for the elasticsearch sink: index names and _ids from templates,
// bulk items from changes, the _bulk NDJSON, and the reading of _bulk answers. No I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/change.h"
#include "core/status.h"
#include "sinks/elasticsearch/es_options.h"

namespace sluice::es {

// One _bulk action. `version` is the change's commit LSN: with version_type=external_gte
// Elasticsearch applies it only if it is not older than the stored version, so a replay or an
// older write is harmless. The change is kept for the dead-letter path.
struct BulkItem {
  enum class Action { kIndex, kDelete };
  Action action = Action::kIndex;
  std::string index;
  std::string id;
  std::string routing;  // empty: none
  uint64_t version = 0;
  uint64_t seq = 0;    // position inside the transaction, for the collapse rule
  std::string source;  // the document (JSON object) for kIndex
  Change change;
  size_t Bytes() const { return source.size() + id.size() + index.size() + 96; }
};

// Replaces {target}, {source}, {schema}, {table} and lower-cases the result (index names
// must be lower case). Fails on an unknown placeholder or an empty name.
Result<std::string> RenderIndex(const std::string& tmpl, const TableId& table,
                                const std::string& target);

// The document _id of `key` (with `row` as a fallback for template columns): the template's
// {column} placeholders replaced by the values' text, or the key values joined with ':' when
// the template is empty. Rejected when a column is missing or null, or the id is over 512
// bytes (Elasticsearch's limit).
Result<std::string> RenderId(const std::string& tmpl, const Row& key, const Row* row);

// The bulk items of one change: index for read/insert/update (plus a delete of the old _id
// when an update changed the key), delete for delete. Truncate has no items (the sink runs a
// delete-by-query). Rejected when the change cannot become a document (message says why);
// the code of a TOAST problem is Rejected with a message starting "unchanged TOAST".
Result<std::vector<BulkItem>> ItemsFor(const Change& change, const EsSinkOptions& options,
                                       const std::string& target);

// Appends the action line and (for index) the source line, each ending in '\n'.
void AppendBulkItem(const BulkItem& item, std::string* ndjson);

// The answer to one bulk item.
struct ItemResult {
  int status = 0;
  std::string error_type;  // "version_conflict_engine_exception", ... ; empty on success
  std::string reason;
};

// Parses a _bulk response body; fails unless it has exactly `expected` items.
Result<std::vector<ItemResult>> ParseBulkResponse(const std::string& body, size_t expected);

enum class Outcome {
  kDone,    // applied, or already applied (409 on an older version), or delete of a missing doc
  kRetry,   // 429 / 5xx: send again later
  kReject,  // can never apply (mapping/parse errors): dead-letter
  kAuth,    // 401 / 403: fatal configuration problem
};
Outcome Classify(const ItemResult& r);

// The `error.type: error.reason` of an Elasticsearch error body, or the body's start.
std::string ErrorSummary(const std::string& body);

}  // namespace sluice::es
