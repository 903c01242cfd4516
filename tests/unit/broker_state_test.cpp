// Broker connection counts from librdkafka's statistics report.
#include <gtest/gtest.h>

#include "consumer/broker_state.hpp"

namespace sluice::consumer {
namespace {

// The shape of librdkafka 2.0's report, cut down: brokers (with nested objects and
// arrays, as int_latency and toppars are), then topics.
const char* kReport = R"({"name":"c#consumer-1","type":"consumer","ts":1,
 "brokers":{
  "127.0.0.1:9092/bootstrap":{"name":"127.0.0.1:9092/bootstrap","nodeid":-1,"source":"configured","state":"UP",
                              "int_latency":{"min":0,"max":0},"toppars":{}},
  "localhost:9092/1":{"name":"localhost:9092/1","nodeid":1,"source":"learned","state":"UP",
                      "toppars":{"t-0":{"topic":"t","partition":0}},"req":{"Fetch":3}},
  "localhost:9093/2":{"name":"localhost:9093/2","nodeid":2,"source":"learned","state":"TRY_CONNECT","rtt":[1,2]},
  ":0/internal":{"name":":0/internal","nodeid":-1,"source":"internal","state":"UP"}},
 "topics":{"t":{"partitions":{"0":{"state":"UP"}}}},
 "cgrp":{"state":"up"}})";

TEST(BrokerState, CountsConnectionsUpAndBrokersLearned) {
  const auto c = count_brokers(kReport);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->up, 2U) << "the bootstrap connection and broker 1; not librdkafka's internal one";
  EXPECT_EQ(c->known, 2U);
}

TEST(BrokerState, NoneUpAndNotAReport) {
  const auto down = count_brokers(R"({"brokers":{"b/1":{"nodeid":1,"source":"learned","state":"DOWN"}},"topics":{}})");
  ASSERT_TRUE(down.has_value());
  EXPECT_EQ(down->up, 0U);
  EXPECT_EQ(down->known, 1U);
  EXPECT_FALSE(count_brokers("not json").has_value());
  EXPECT_FALSE(count_brokers(R"({"topics":{}})").has_value());
  // What follows the brokers is never read: even text that is not JSON.
  EXPECT_TRUE(count_brokers(R"({"brokers":{},"topics": this is not read)").has_value());
}

}  // namespace
}  // namespace sluice::consumer
