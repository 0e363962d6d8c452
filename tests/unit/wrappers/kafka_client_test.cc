// The librdkafka wrapper shared by the Kafka sink and source, pure parts: property lists
// and the one error mapping.
#include "wrappers/kafka/kafka_client.h"

#include <catch2/catch.hpp>

namespace sluice::kafka {

TEST_CASE("KafkaClient: properties lists keep commas inside values", "[unit][kafka]") {
  auto p = ParseProperties("compression.codec=zstd, bootstrap.servers=a:9092,b:9092, linger.ms=7");
  REQUIRE(p.ok());
  REQUIRE(p->size() == 3);
  CHECK((*p)[0] == std::pair<std::string, std::string>{"compression.codec", "zstd"});
  CHECK((*p)[1] == std::pair<std::string, std::string>{"bootstrap.servers", "a:9092,b:9092"});
  CHECK((*p)[2] == std::pair<std::string, std::string>{"linger.ms", "7"});
  CHECK(ParseProperties("").ok());
  CHECK(ParseProperties("novalue").status().code() == StatusCode::kInvalidArgument);
  CHECK(ParseProperties("Bad Name=1").status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("KafkaClient: error codes map to what sluice does with them", "[unit][kafka]") {
  CHECK(ToStatus(RD_KAFKA_RESP_ERR_NO_ERROR, "x").ok());
  CHECK(ToStatus(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, "x").code() == StatusCode::kUnavailable);
  CHECK(ToStatus(RD_KAFKA_RESP_ERR__TRANSPORT, "x").code() == StatusCode::kUnavailable);
  CHECK(ToStatus(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, "x").code() ==
        StatusCode::kUnavailable);
  CHECK(ToStatus(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "x").code() == StatusCode::kRejected);
  CHECK(ToStatus(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "x").code() ==
        StatusCode::kInvalidArgument);
  CHECK(ToStatus(RD_KAFKA_RESP_ERR__AUTHENTICATION, "x").code() == StatusCode::kInvalidArgument);
  CHECK(ToStatus(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, "x").code() == StatusCode::kNotFound);
  CHECK(ToStatus(RD_KAFKA_RESP_ERR__FATAL, "x").code() == StatusCode::kInternal);
  Status s = ToStatus(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, "delivery to t [0]");
  CHECK(s.message().find("delivery to t [0]") == 0);
  CHECK(s.message().find("_MSG_TIMED_OUT") != std::string::npos);
}

}  // namespace sluice::kafka
