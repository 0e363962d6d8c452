// Kafka source, pure parts: turns a message written by the kafka sink (the `sluice` line
// format or a Debezium change event) back into the Change it came from, with its original
// table and position. No librdkafka here.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "connectors/kafka/line_reader.h"
#include "core/change.h"
#include "core/status.h"

namespace sluice::kafka {

enum class InputFormat : uint8_t {
  kAuto,  // decide per message: a string "source" means sluice, an object Debezium
  kSluice,
  kDebezium,  // schemaless, or with the JsonConverter's {"schema":..,"payload":..} wrapper
};

// What a message carries besides key and value.
struct MessageMeta {
  // The position in the sluice.lsn / sluice.seq headers, read only when asked for (a sluice
  // envelope carries its own, and reading headers costs more than the rest of the envelope).
  std::function<std::optional<Position>()> header_position;
};

// Parses "X/X" + decimal seq headers; nullopt if either is missing or malformed.
std::optional<Position> PositionFromHeaders(std::optional<std::string_view> lsn,
                                            std::optional<std::string_view> seq);

// "2026-11-24T10:00:00.123456Z" (or fewer fraction digits, or none) -> microseconds since
// the Unix epoch; nullopt if malformed.
std::optional<int64_t> ParseTimestampUs(std::string_view text);

// Owned by one source thread. Keeps one TableId per table, shared by its changes.
class EnvelopeParser {
 public:
  explicit EnvelopeParser(InputFormat format) : format_(format) {}

  // Appends the change a message carries to `out`. A tombstone (no value) appends nothing.
  // Rejected (with what is wrong) for a value that is not such an envelope. The position is
  // the envelope's (`lsn` and `seq` for sluice); for Debezium the headers' when present,
  // else (source.lsn, 0).
  Status Parse(std::optional<std::string_view> key, std::optional<std::string_view> value,
               const MessageMeta& meta, std::vector<Change>* out);

 private:
  std::shared_ptr<const TableId> Table(const std::string& source, const std::string& schema,
                                       const std::string& table);

  InputFormat format_;
  std::shared_ptr<const TableId> last_table_;  // the one Table() returned last
  std::map<std::tuple<std::string, std::string, std::string>, std::shared_ptr<const TableId>>
      tables_;
};

}  // namespace sluice::kafka
