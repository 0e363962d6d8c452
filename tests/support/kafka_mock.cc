#include "support/kafka_mock.h"

#include <catch2/catch.hpp>

namespace sluice::test {

namespace {

rd_kafka_t* NewClient(rd_kafka_type_t type,
                      const std::vector<std::pair<std::string, std::string>>& props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props) {
    REQUIRE(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) == RD_KAFKA_CONF_OK);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  INFO(err);
  REQUIRE(rk != nullptr);
  return rk;
}

int PartitionCount(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 10000);
  rd_kafka_topic_destroy(t);
  INFO("metadata of " << topic << ": " << rd_kafka_err2str(err));
  REQUIRE(err == RD_KAFKA_RESP_ERR_NO_ERROR);
  int n = md->topic_cnt == 1 && md->topics[0].err == 0 ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  return n;
}

}  // namespace

KafkaMock::KafkaMock(int brokers) {
  // The mock cluster lives on a handle of its own; that handle never talks to it.
  handle_ = NewClient(RD_KAFKA_PRODUCER, {{"log_level", "3"}});
  cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
  REQUIRE(cluster_ != nullptr);
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
}

KafkaMock::~KafkaMock() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
  if (handle_) rd_kafka_destroy(handle_);
}

void KafkaMock::CreateTopic(const std::string& topic, int partitions) {
  REQUIRE(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1) ==
          RD_KAFKA_RESP_ERR_NO_ERROR);
}

void KafkaMock::PushErrors(KafkaApi api, const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, static_cast<int16_t>(api), errors.size(),
                                          errors.data());
}

std::vector<KafkaRecord> KafkaMock::ReadAll(const std::string& topic,
                                            std::chrono::milliseconds timeout) {
  rd_kafka_t* rk = NewClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstraps_},
                                                 {"group.id", "sluice-test-reader"},
                                                 {"enable.auto.commit", "false"},
                                                 {"log_level", "3"}});
  int n = PartitionCount(rk, topic);
  REQUIRE(n > 0);
  std::map<int32_t, int64_t> high;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(n);
  size_t expected = 0;
  for (int32_t p = 0; p < n; ++p) {
    int64_t lo = 0, hi = 0;
    REQUIRE(rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 10000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
    high[p] = hi;
    expected += static_cast<size_t>(hi - lo);
    if (hi > lo) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = lo;
  }
  REQUIRE(rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<KafkaRecord> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < expected && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset < high[m->partition]) {
      KafkaRecord r;
      r.partition = m->partition;
      r.offset = m->offset;
      if (m->key) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.emplace(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; ++i) {
          r.headers[name] = val ? std::string(static_cast<const char*>(val), size) : "";
        }
      }
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  INFO("read " << out.size() << " of " << expected << " messages of " << topic);
  REQUIRE(out.size() == expected);
  std::sort(out.begin(), out.end(), [](const KafkaRecord& a, const KafkaRecord& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  return out;
}

std::map<int32_t, int64_t> KafkaMock::Committed(const std::string& group,
                                                const std::string& topic) {
  rd_kafka_t* rk = NewClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstraps_},
                                                 {"group.id", group},
                                                 {"enable.auto.commit", "false"},
                                                 {"log_level", "3"}});
  int n = PartitionCount(rk, topic);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(n);
  for (int32_t p = 0; p < n; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  REQUIRE(rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  std::map<int32_t, int64_t> out;
  for (int i = 0; i < list->cnt; ++i) out[list->elems[i].partition] = list->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return out;
}

}  // namespace sluice::test
