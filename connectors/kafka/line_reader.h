// The fast path of the Kafka source: reads a `sluice` line-format envelope in one pass,
// without building a JSON document first. It takes the shape the kafka sink writes (columns
// holding strings, integers, booleans or null) and declines everything else -- a Debezium
// event, a nested JSON value, a float, a \u escape, anything malformed -- which the general
// parser (kafka_envelope.cc) then reads, so both paths give the same result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/change.h"

namespace sluice::kafka {

// The fields of a sluice envelope as they were written, before any check of their meaning.
struct SluiceFields {
  std::optional<std::string> op, source, schema, table, lsn, commit_time;
  std::optional<uint64_t> seq, xid;
  std::optional<Row> key, old_key, before, after;  // nullopt: absent or null
  std::vector<std::string> unchanged;
};

// Fills `out` from `text` and returns true when `text` is one JSON object whose fields all
// have the types above (and whose other fields are scalars); false otherwise, with `out` in
// an unspecified state.
bool ReadSluiceLine(std::string_view text, SluiceFields* out);

}  // namespace sluice::kafka
