// kafka_bench: the librdkafka baselines for bench/kafka.sh, and the mock cluster it runs on.
//   kafka_bench mock PARTITIONS TOPIC...      mock cluster on loopback: prints its bootstrap
//                                             servers, creates the topics, runs until stdin
//                                             closes
//   kafka_bench produce BROKERS TOPIC N BYTES raw idempotent producer (acks=all): N messages
//                                             of BYTES, keyed; prints msgs/s
//   kafka_bench consume BROKERS TOPIC N       raw consumer (own group, from the beginning)
//                                             until N messages; prints msgs/s
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

rd_kafka_t* Client(rd_kafka_type_t type,
                   std::initializer_list<std::pair<const char*, std::string>> props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      std::cerr << k << ": " << err << "\n";
      std::exit(2);
    }
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (!rk) {
    std::cerr << err << "\n";
    std::exit(2);
  }
  return rk;
}

int Mock(int argc, char** argv) {
  rd_kafka_t* rk = Client(RD_KAFKA_PRODUCER, {{"log_level", "3"}});
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, 1);
  int partitions = std::atoi(argv[2]);
  for (int i = 3; i < argc; ++i) rd_kafka_mock_topic_create(mc, argv[i], partitions, 1);
  std::cout << rd_kafka_mock_cluster_bootstraps(mc) << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}

int Produce(const std::string& brokers, const std::string& topic, long n, size_t bytes) {
  rd_kafka_t* rk = Client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", brokers},
                                              {"enable.idempotence", "true"},
                                              {"acks", "all"},
                                              {"linger.ms", "5"},
                                              {"log_level", "3"}});
  std::string value(bytes, 'x');
  auto start = Clock::now();
  for (long i = 0; i < n; ++i) {
    std::string key = "{\"id\":" + std::to_string(i % 100000) + "}";
    while (true) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::cerr << rd_kafka_err2str(err) << "\n";
        return 1;
      }
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 60000);
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("raw producer: %ld messages of %zu bytes in %.2f s: %.0f msgs/s\n", n, bytes, secs,
              n / secs);
  rd_kafka_destroy(rk);
  return 0;
}

int Consume(const std::string& brokers, const std::string& topic, long n) {
  std::string group =
      "bench-raw-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  rd_kafka_t* rk = Client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", brokers},
                                              {"group.id", group},
                                              {"auto.offset.reset", "earliest"},
                                              {"enable.auto.commit", "false"},
                                              {"log_level", "3"}});
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  long got = 0;
  Clock::time_point start;
  while (got < n) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (!m->err) {
      if (got++ == 0) start = Clock::now();  // from the first message: joining is not reading
    }
    rd_kafka_message_destroy(m);
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("raw consumer: %ld messages in %.2f s: %.0f msgs/s\n", n, secs, n / secs);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "mock" && argc >= 3) return Mock(argc, argv);
  if (mode == "produce" && argc == 6)
    return Produce(argv[2], argv[3], std::atol(argv[4]), std::strtoul(argv[5], nullptr, 10));
  if (mode == "consume" && argc == 5) return Consume(argv[2], argv[3], std::atol(argv[4]));
  std::cerr << "usage: kafka_bench mock PARTITIONS TOPIC... | produce BROKERS TOPIC N BYTES | "
               "consume BROKERS TOPIC N\n";
  return 2;
}
