// bench_kafka: the Kafka side of bench/kafka.sh -- librdkafka's mock cluster as a process, and
// the raw librdkafka producer and consumer that the Kafka sink and source are compared with.
//   bench_kafka mock PARTITIONS TOPIC...
//       a one-broker mock cluster on loopback: creates the topics, prints its bootstrap
//       servers on one line, runs until SIGTERM or SIGINT
//   bench_kafka produce BROKERS TOPIC N VALUE_BYTES
//       raw idempotent producer (acks=all, linger.ms=5, murmur2_random: the sink's settings):
//       N messages keyed {"id":I}, values of VALUE_BYTES, the three headers the sink writes;
//       waits for every delivery report and fails unless all succeeded
//   bench_kafka consume BROKERS TOPIC N
//       raw consumer in a group of its own, from the beginning, until N messages; prints
//       "seconds=S" from its partitions' assignment to the N-th message
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_kafka: %s\n", what.c_str());
  std::exit(1);
}

rd_kafka_conf_t* Conf(std::initializer_list<std::pair<const char*, std::string>> props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [name, value] : props) {
    if (rd_kafka_conf_set(conf, name, value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      Die(std::string(name) + ": " + err);
    }
  }
  return conf;
}

rd_kafka_t* Client(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (!rk) Die(err);
  return rk;
}

int Mock(int partitions, int ntopics, char** topics) {
  // Block the signals before librdkafka starts its threads, so that they inherit the mask and
  // sigwait below is the one place the signals arrive.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  rd_kafka_t* rk = Client(RD_KAFKA_PRODUCER, Conf({{"log_level", "3"}}));
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, 1);
  if (!mc) Die("cannot start the mock cluster");
  for (int i = 0; i < ntopics; ++i) {
    if (rd_kafka_mock_topic_create(mc, topics[i], partitions, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Die(std::string("cannot create topic ") + topics[i]);
    }
  }
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}

long g_failed = 0;

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  if (msg->err && g_failed++ == 0) {
    std::fprintf(stderr, "bench_kafka: delivery failed: %s\n", rd_kafka_err2str(msg->err));
  }
}

int Produce(const std::string& brokers, const std::string& topic, long n, size_t value_bytes) {
  rd_kafka_conf_t* conf = Conf({{"bootstrap.servers", brokers},
                                {"enable.idempotence", "true"},
                                {"acks", "all"},
                                {"linger.ms", "5"},
                                {"partitioner", "murmur2_random"},
                                {"log_level", "3"}});
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_t* rk = Client(RD_KAFKA_PRODUCER, conf);
  std::string value(value_bytes, 'x');
  for (long i = 0; i < n; ++i) {
    std::string key = "{\"id\":" + std::to_string(i + 1) + "}";
    std::string lsn = "0/" + std::to_string(0x1000000 + i);
    rd_kafka_vu_t vu[7];
    vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[0].u.cstr = topic.c_str();
    vu[1].vtype = RD_KAFKA_VTYPE_KEY;
    vu[1].u.mem = {key.data(), key.size()};
    vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[2].u.mem = {value.data(), value.size()};
    vu[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[3].u.i = RD_KAFKA_MSG_F_COPY;
    vu[4].vtype = RD_KAFKA_VTYPE_HEADER;
    vu[4].u.header = {"sluice.lsn", lsn.data(), static_cast<ssize_t>(lsn.size())};
    vu[5].vtype = RD_KAFKA_VTYPE_HEADER;
    vu[5].u.header = {"sluice.seq", "0", 1};
    vu[6].vtype = RD_KAFKA_VTYPE_HEADER;
    vu[6].u.header = {"sluice.op", "insert", 6};
    while (rd_kafka_error_t* error = rd_kafka_produceva(rk, vu, 7)) {
      rd_kafka_resp_err_t err = rd_kafka_error_code(error);
      rd_kafka_error_destroy(error);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) Die(rd_kafka_err2str(err));
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) Die("flush timed out");
  rd_kafka_destroy(rk);
  if (g_failed) Die(std::to_string(g_failed) + " messages were not delivered");
  return 0;
}

Clock::time_point g_assigned;

void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions, void*) {
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    g_assigned = Clock::now();
    rd_kafka_assign(rk, partitions);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

int Consume(const std::string& brokers, const std::string& topic, long n) {
  std::string group = "bench-raw-" + std::to_string(Clock::now().time_since_epoch().count());
  rd_kafka_conf_t* conf = Conf({{"bootstrap.servers", brokers},
                                {"group.id", group},
                                {"auto.offset.reset", "earliest"},
                                {"enable.auto.commit", "false"},
                                {"log_level", "3"}});
  rd_kafka_conf_set_rebalance_cb(conf, OnRebalance);
  rd_kafka_t* rk = Client(RD_KAFKA_CONSUMER, conf);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(rk, list) != RD_KAFKA_RESP_ERR_NO_ERROR) Die("cannot subscribe");
  rd_kafka_topic_partition_list_destroy(list);
  long got = 0;
  while (got < n) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) continue;
    if (m->err) Die(rd_kafka_message_errstr(m));
    ++got;
    rd_kafka_message_destroy(m);
  }
  double seconds = std::chrono::duration<double>(Clock::now() - g_assigned).count();
  std::printf("seconds=%.6f\n", seconds);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "mock" && argc >= 4) return Mock(std::atoi(argv[2]), argc - 3, argv + 3);
  if (mode == "produce" && argc == 6) {
    return Produce(argv[2], argv[3], std::atol(argv[4]), std::strtoul(argv[5], nullptr, 10));
  }
  if (mode == "consume" && argc == 5) return Consume(argv[2], argv[3], std::atol(argv[4]));
  std::fprintf(stderr,
               "usage: bench_kafka mock PARTITIONS TOPIC... | produce BROKERS TOPIC N VALUE_BYTES "
               "| consume BROKERS TOPIC N\n");
  return 2;
}
