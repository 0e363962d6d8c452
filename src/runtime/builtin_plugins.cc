#include "runtime/builtin_plugins.h"

#include "connectors/generate/generate_source.h"
#include "connectors/kafka/kafka_source.h"
#include "connectors/mariadb/mariadb_source.h"
#include "connectors/postgres/postgres_source.h"
#include "sinks/elasticsearch/es_sink.h"
#include "sinks/kafka/kafka_sink.h"
#include "sinks/null/null_sink.h"
#include "sinks/redis/redis_sink.h"
#include "sinks/stdout/stdout_sink.h"

namespace sluice {

void RegisterBuiltinPlugins(Registry& registry) {
  pg::RegisterPostgresSource(registry);
  mariadb::RegisterMariaDbSource(registry);
  generate::RegisterGenerateSource(registry);
  kafka::RegisterKafkaSource(registry);
  RegisterStdoutSink(registry);
  RegisterNullSink(registry);
  redis::RegisterRedisSink(registry);
  RegisterElasticsearchSink(registry);
  kafka::RegisterKafkaSink(registry);
}

}  // namespace sluice
