// What the consumer reports about a partition's watermarks, and feeds FetchStall, from
// librdkafka's cache, its statistics and the leader's answers (consumer/partition_reading.hpp).
#include "consumer/partition_reading.hpp"

#include <gtest/gtest.h>

namespace sluice::consumer {
namespace {

LeaderWatermarks::Answer leader(std::int64_t low, std::int64_t high) {
  return {.watermarks = {.topic = "events", .partition = 0, .low = low, .high = high},
          .asked_at = std::chrono::steady_clock::time_point(std::chrono::seconds(42))};
}

TEST(PartitionReading, AFetchedPartitionShowsLibrdkafkasWatermarksAndAsksNoLeader) {
  const FetchState active{.state = "active", .next_offset = 120};
  const PartitionReading r = read_partition(
      {.wanted = true, .expected = 100, .cached_low = 5, .cached_high = 130, .fetch = &active, .leader = leader(9, 500)});
  EXPECT_FALSE(r.ask_leader);
  EXPECT_EQ(r.low, 5) << "a leader's answer left from an earlier pause is not used";
  EXPECT_EQ(r.high, 130);
  EXPECT_TRUE(r.sample.wanted);
  EXPECT_EQ(r.sample.expected, 100);
  EXPECT_TRUE(r.sample.fetching);
  EXPECT_EQ(r.sample.fetch_offset, 120);
  EXPECT_FALSE(r.sample.leader_end);
}

TEST(PartitionReading, APausedPartitionsLagGrowsWithTheLeadersAnswer) {
  // librdkafka's cache stopped at the last fetch; records kept coming.
  const PartitionReading r = read_partition({.wanted = false, .cached_low = 0, .cached_high = 1000, .leader = leader(0, 4000)});
  EXPECT_TRUE(r.ask_leader);
  EXPECT_EQ(r.high, 4000);
  EXPECT_EQ(r.low, 0);
  EXPECT_EQ(r.sample.leader_end, 4000);
  EXPECT_EQ(r.sample.asked_at, std::chrono::steady_clock::time_point(std::chrono::seconds(42)));
}

TEST(PartitionReading, AnOlderLeaderAnswerNeverMovesAWatermarkBack) {
  const PartitionReading r = read_partition({.wanted = false, .cached_low = 50, .cached_high = 1000, .leader = leader(10, 900)});
  EXPECT_EQ(r.low, 50);
  EXPECT_EQ(r.high, 1000);
}

TEST(PartitionReading, ASuspectedStallAsksTheLeaderEvenWhileWanted) {
  const FetchState stopped{.state = "stopped", .next_offset = 10};
  const PartitionReading r =
      read_partition({.wanted = true, .suspect = true, .expected = 10, .cached_low = 0, .cached_high = 10, .fetch = &stopped,
                      .leader = leader(0, 25)});
  EXPECT_TRUE(r.ask_leader);
  EXPECT_EQ(r.high, 25);
  EXPECT_FALSE(r.sample.fetching);
  EXPECT_EQ(r.sample.leader_end, 25);
}

TEST(PartitionReading, NothingKnownYetIsReportedAsUnknown) {
  const PartitionReading r = read_partition({.wanted = false, .leader = std::nullopt});
  EXPECT_TRUE(r.ask_leader) << "the leader is asked from now on";
  EXPECT_EQ(r.high, -1) << "the gauges keep what they show rather than a made-up 0";
  EXPECT_FALSE(r.sample.fetching) << "no statistics read: not taken for fetching";
  EXPECT_EQ(r.sample.fetch_offset, -1);
}

}  // namespace
}  // namespace sluice::consumer
