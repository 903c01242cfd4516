#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "consumer/offset_tracker.hpp"

namespace sluice::consumer {
namespace {

TEST(OffsetTracker, NothingDispatchedMeansNothingToCommit) {
  OffsetTracker t;
  EXPECT_EQ(t.committable(), -1);
}

TEST(OffsetTracker, InOrderCompletionAdvancesWatermark) {
  OffsetTracker t;
  for (int o = 10; o < 15; ++o) t.dispatched(o);
  EXPECT_EQ(t.committable(), 10);
  EXPECT_TRUE(t.completed(10));
  EXPECT_TRUE(t.completed(11));
  EXPECT_EQ(t.committable(), 12);
  EXPECT_EQ(t.in_flight(), 3U);
}

TEST(OffsetTracker, OutOfOrderCompletionNeverPassesAGap) {
  OffsetTracker t;
  for (int o = 0; o < 5; ++o) t.dispatched(o);
  EXPECT_TRUE(t.completed(4));
  EXPECT_TRUE(t.completed(2));
  EXPECT_EQ(t.committable(), 0) << "offset 0 is still in flight";
  EXPECT_TRUE(t.completed(0));
  EXPECT_EQ(t.committable(), 1);
  EXPECT_TRUE(t.completed(1));
  EXPECT_EQ(t.committable(), 3);
  EXPECT_TRUE(t.completed(3));
  EXPECT_EQ(t.committable(), 5);
  EXPECT_EQ(t.in_flight(), 0U);
}

TEST(OffsetTracker, GapsInOffsetsAreNotWaitedFor) {
  OffsetTracker t;
  t.dispatched(5);
  t.dispatched(7);  // 6 was a control record or compacted away
  EXPECT_TRUE(t.completed(7));
  EXPECT_EQ(t.committable(), 5);
  EXPECT_TRUE(t.completed(5));
  EXPECT_EQ(t.committable(), 8);
}

TEST(OffsetTracker, UnknownAndRepeatedCompletionsAreRejected) {
  OffsetTracker t;
  t.dispatched(1);
  t.dispatched(2);
  EXPECT_FALSE(t.completed(0));
  EXPECT_FALSE(t.completed(3));
  EXPECT_TRUE(t.completed(2));
  EXPECT_FALSE(t.completed(2));
  EXPECT_EQ(t.in_flight(), 1U);
}

TEST(OffsetTracker, RandomCompletionOrderMatchesReferenceWatermark) {
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    OffsetTracker t;
    std::vector<std::int64_t> offs;
    std::int64_t o = round;
    for (int i = 0; i < 64; ++i) {
      o += 1 + static_cast<std::int64_t>(rng() % 3);
      offs.push_back(o);
      t.dispatched(o);
    }
    std::vector<std::int64_t> order = offs;
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> done(offs.size(), false);
    for (std::int64_t c : order) {
      ASSERT_TRUE(t.completed(c));
      done[std::find(offs.begin(), offs.end(), c) - offs.begin()] = true;
      std::size_t first = 0;
      while (first < offs.size() && done[first]) ++first;
      const std::int64_t expect = first == offs.size() ? offs.back() + 1 : offs[first];
      ASSERT_EQ(t.committable(), expect);
    }
  }
}

}  // namespace
}  // namespace sluice::consumer
