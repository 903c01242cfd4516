// The consumer's group membership from librdkafka's statistics report.
#include <gtest/gtest.h>

#include "consumer/group_state.hpp"
#include "shm/group_states.hpp"

namespace sluice::consumer {
namespace {

// librdkafka 2.0's spacing, cut down; a topic named "cgrp" comes before the group.
const char* kReport = R"({"name":"c#consumer-1","type":"consumer","brokers":{ "b/1": { "nodeid":1, "state":"UP"} },
 "topics":{ "cgrp": { "topic":"cgrp", "partitions":{ "0": { "partition":0, "fetch_state":"active"} } } } ,
 "cgrp": { "state": "up", "stateage": 2999, "join_state": "wait-join", "rebalance_age": 0, "rebalance_cnt": 0,
           "rebalance_reason": "Metadata for subscribed topic(s) has changed", "assignment_size": 0 },
 "tx":10, "rx":9})";

TEST(GroupState, ReadsTheGroupAfterATopicOfTheSameName) {
  const auto g = read_group_state(kReport);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->state, "up");
  EXPECT_EQ(g->join_state, "wait-join");
  EXPECT_FALSE(g->settled());
  const auto steady = read_group_state(R"({"topics":{},"cgrp": {"state":"up","join_state":"steady"}})");
  ASSERT_TRUE(steady.has_value());
  EXPECT_TRUE(steady->settled());
}

TEST(GroupState, NoGroupIsNotFound) {
  EXPECT_FALSE(read_group_state("not json").has_value());
  EXPECT_FALSE(read_group_state(R"({"brokers":{},"topics":{}})").has_value());
  // A group-less report whose last "cgrp" key is a topic's.
  EXPECT_FALSE(read_group_state(R"({"topics":{"cgrp": {"topic":"cgrp","partitions":{}}}})").has_value());
  EXPECT_FALSE(read_group_state(R"({"cgrp": )").has_value());
}

TEST(GroupState, TheSegmentSaysSinceWhenTheConsumerIsUnsettled) {
  shm::Stats stats{};
  GroupWatch watch("l", "lambda-l");
  const GroupState joining{"up", "wait-join"};
  const GroupState steady{"up", "steady"};
  watch.record(stats, joining, 1000);
  EXPECT_EQ(stats.group_unsettled_ns.load(), 1000U);
  EXPECT_EQ(shm::name_of(shm::kJoinStates, stats.group_join_state.load()), "wait-join");
  watch.record(stats, GroupState{"query-coord", "init"}, 5000);
  EXPECT_EQ(stats.group_unsettled_ns.load(), 1000U) << "still unsettled since the first report that said so";
  EXPECT_EQ(shm::name_of(shm::kGroupStates, stats.group_state.load()), "query-coord");
  watch.record(stats, steady, 9000);
  EXPECT_EQ(stats.group_unsettled_ns.load(), 0U);
  EXPECT_EQ(shm::name_of(shm::kJoinStates, stats.group_join_state.load()), "steady");
  // A name this librdkafka has and the table has not is "unknown", not a guess.
  watch.record(stats, GroupState{"up", "wait-something-new"}, 10000);
  EXPECT_EQ(shm::name_of(shm::kJoinStates, stats.group_join_state.load()), "unknown");
  EXPECT_EQ(stats.group_unsettled_ns.load(), 10000U);
}

TEST(GroupState, CodesWrittenByAnyoneReadBackAsNames) {
  EXPECT_EQ(shm::name_of(shm::kJoinStates, shm::code_of(shm::kJoinStates, "wait-sync")), "wait-sync");
  EXPECT_EQ(shm::name_of(shm::kGroupStates, shm::code_of(shm::kGroupStates, "up")), "up");
  EXPECT_EQ(shm::name_of(shm::kJoinStates, ~0ULL), "unknown") << "a worker can write the segment";
}

}  // namespace
}  // namespace sluice::consumer
