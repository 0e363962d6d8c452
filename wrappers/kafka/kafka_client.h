// KafkaClient: the one wrapper around librdkafka's C API, linked by the Kafka sink and the
// Kafka source alike (STYLE: a vendor library is included by its own plugin's files "or one
// wrapper"): RAII handles, the options both plugins take (brokers, security, raw librdkafka
// properties), the conf they build, the header names the sink writes and the source reads,
// and the single place where rd_kafka_resp_err_t becomes a Status. It lives in wrappers/, not
// in either plugin, so that neither plugin includes the other; it knows no plugin.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/metrics.h"
#include "core/options.h"
#include "core/status.h"

namespace sluice::kafka {

// Header names every message the sink writes carries, and the source reads.
inline constexpr const char* kHeaderLsn = "sluice.lsn";  // commit LSN, "X/X"
inline constexpr const char* kHeaderSeq = "sluice.seq";  // ordinal in the transaction
inline constexpr const char* kHeaderOp = "sluice.op";    // "insert", ..., of this message

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

// What an error code means for sluice, decided here and nowhere else:
//   authentication, authorization, unknown topic, bad config, unsupported feature
//     -> InvalidArgument (fix the config or the cluster; retrying will not help);
//   a message the broker can never take (too large, invalid, corrupt) -> Rejected;
//   fatal (idempotence broken, fenced) -> Internal;
//   timeouts, transport, leader changes, throttling, anything retriable -> Unavailable.
// `context` names what failed ("produce to shop.public.orders").
Status ToStatus(rd_kafka_resp_err_t err, const std::string& context);

// The options both the sink and the source take.
struct CommonOptions {
  std::string brokers;
  std::string client_id;
  std::string security_protocol;  // plaintext | ssl | sasl_plaintext | sasl_ssl
  std::string sasl_mechanism;     // PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 | ...; "" = default
  std::string sasl_username;
  std::string sasl_password;  // secret: never logged
  std::string ssl_ca_location;
  std::string ssl_certificate_location;
  std::string ssl_key_location;
  std::string ssl_key_password;  // secret
  // Raw librdkafka properties, applied last (they win over everything above).
  std::vector<std::pair<std::string, std::string>> properties;
};

// Option table entries for CommonOptions, shared by both plugins' tables.
std::vector<OptionSpec> CommonOptionSpecs();
// Reads CommonOptions from validated options; InvalidArgument for a malformed `properties`.
Result<CommonOptions> ParseCommonOptions(const Options& options);

// Splits `properties` items "name=value". The option loader joins a YAML sequence with ", ",
// so a comma followed by something that does not look like "name=" stays in the value
// ("bootstrap.servers=a:9092,b:9092" keeps both brokers).
Result<std::vector<std::pair<std::string, std::string>>> ParseProperties(const std::string& text);

// Logs librdkafka's own log lines through spdlog and counts its errors in
// sluice_kafka_errors_total{code}. Lives as long as the handle it was given to.
// The handle's opaque points at it: the plugin's own callbacks find `owner` there.
struct ClientHooks {
  std::string what;       // "pipeline orders sink log", for log lines
  MetricScope metrics;    // the plugin's scope
  void* owner = nullptr;  // the plugin object, for its callbacks
};

// A conf with `common` applied over `defaults`, then `common.properties` over both, and
// librdkafka's logging routed through `hooks` (which must outlive the handle). Names the
// property in the error of a bad value, never the value of a secret.
Result<ConfPtr> BuildConf(const CommonOptions& common,
                          const std::vector<std::pair<std::string, std::string>>& defaults,
                          ClientHooks* hooks);

// rd_kafka_new with ownership of `conf` passed on (also when it fails).
Result<HandlePtr> NewHandle(rd_kafka_type_t type, ConfPtr conf);

// Asks the cluster for its broker list (and `topic`'s partitions when given): proves that
// the brokers answer and accept the credentials. Returns the metadata.
Result<MetadataPtr> FetchMetadata(rd_kafka_t* rk, rd_kafka_topic_t* topic,
                                  std::chrono::milliseconds timeout);

// rd_kafka_fatal_error's reason, empty when the handle has none.
std::string FatalError(rd_kafka_t* rk);

}  // namespace sluice::kafka
