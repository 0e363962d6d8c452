// A Kafka cluster for tests: librdkafka's mock cluster, in the test process, listening on
// loopback ports of its own choosing. The sluice binary, kcat and in-process clients reach
// it through bootstraps(). Plus a reader that returns a topic's whole content.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::test {

// Kafka protocol API keys, for KafkaMock::PushErrors.
enum class KafkaApi : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kSyncGroup = 14,
  kInitProducerId = 22,
};

struct KafkaRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: a tombstone
  std::map<std::string, std::string> headers;
};

// Produce errors a broker answers before it appends anything. The mock cluster never appends
// a request it answers with an injected error. After an error that means "maybe appended"
// (REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND) the idempotent producer counts those
// messages as persisted once a later sequence is acknowledged (an implicit ack, sound on a
// real broker, which refuses sequence gaps); the mock accepted the later batch without them,
// so the topic lost messages that no real broker would have lost. Seen once in CI (1996 of
// 2000), with librdkafka 2.0.2.
// The same loss was seen again (1996 of 2000, under load) with only these errors: a later
// batch of the same partition, in flight beside the failed one, was acknowledged first and
// the failed one then counted as persisted (librdkafka issue 2501 describes the same against
// a stubbed broker). A real broker refuses that gap; the mock does not reliably. So sinks
// that meet injected produce errors keep one request in flight per connection
// (kOneProduceRequestInFlight): a failed batch is then sent again before any later one.
// Production keeps librdkafka's default of 5, which a real broker's sequence checks make safe.
inline constexpr const char* kOneProduceRequestInFlight = "max.in.flight.requests.per.connection=1";

inline std::vector<rd_kafka_resp_err_t> NotAppendedProduceErrors() {
  return {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
          RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS};
}

// Owns the mock cluster and the librdkafka handle it runs on. Thread-safe as librdkafka is.
class KafkaMock {
 public:
  explicit KafkaMock(int brokers = 1);
  ~KafkaMock();
  KafkaMock(const KafkaMock&) = delete;
  KafkaMock& operator=(const KafkaMock&) = delete;

  // "127.0.0.1:PORT[,...]"
  const std::string& bootstraps() const { return bootstraps_; }
  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }

  void CreateTopic(const std::string& topic, int partitions);
  // The next `errors.size()` requests of `api` fail with these errors, in order.
  void PushErrors(KafkaApi api, const std::vector<rd_kafka_resp_err_t>& errors);

  // Every message of `topic`, in partition then offset order (reads up to the high
  // watermarks seen at the start). Fails the test if the topic cannot be read.
  std::vector<KafkaRecord> ReadAll(const std::string& topic,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // The offsets `group` has committed for `topic`'s partitions (-1001: none).
  std::map<int32_t, int64_t> Committed(const std::string& group, const std::string& topic);

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
};

}  // namespace sluice::test
