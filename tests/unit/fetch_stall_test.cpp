// FetchStall (when librdkafka has stopped fetching a partition the consumer wants) and
// the fetch states it reads from librdkafka's statistics report.
#include <gtest/gtest.h>

#include "consumer/fetch_stall.hpp"
#include "consumer/fetch_states.hpp"

namespace sluice::consumer {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kAfter = 10s;

// A partition wanted at offset 7 whose fetcher reports state `state` at `fetch_offset`,
// with the leader answering `end`, asked at `asked`.
FetchSample sample(std::int64_t end, Clock::time_point asked, const char* state = "active", std::int64_t fetch_offset = 7) {
  return {.wanted = true,
          .expected = 7,
          .fetching = FetchState{state, fetch_offset}.fetching(),
          .fetch_offset = fetch_offset,
          .leader_end = end,
          .asked_at = asked};
}

TEST(FetchStall, ANotFetchingPartitionBehindItsLeaderIsStalledAfterTheWait) {
  const auto t0 = Clock::now();
  FetchStall s(kAfter);
  EXPECT_FALSE(s.stalled(sample(20, t0), t0));
  EXPECT_FALSE(s.suspect(t0 + 4s));
  EXPECT_TRUE(s.suspect(t0 + 5s)) << "asked about from half the wait on";
  EXPECT_FALSE(s.stalled(sample(20, t0 + 5s), t0 + 9s)) << "not before the wait";
  EXPECT_TRUE(s.stalled(sample(20, t0 + 5s), t0 + 10s));
  s.reset();
  EXPECT_FALSE(s.suspect(t0 + 11s));
  EXPECT_FALSE(s.stalled(sample(20, t0 + 10s), t0 + 11s)) << "a restart waits afresh";
  EXPECT_TRUE(s.stalled(sample(20, t0 + 15s), t0 + 21s));
}

TEST(FetchStall, AStoppedFetcherIsStalledWhateverOffsetItReports) {
  // Restarted backwards at 7 with the start lost: librdkafka still says 25, stopped.
  const auto t0 = Clock::now();
  FetchStall s(kAfter);
  EXPECT_FALSE(s.stalled(sample(25, t0, "stopped", 25), t0));
  EXPECT_TRUE(s.stalled(sample(25, t0 + 5s, "stopped", 25), t0 + 10s));
}

TEST(FetchStall, MovingOrCaughtUpOrAheadOrPausedIsNeverStalled) {
  const auto t0 = Clock::now();
  {
    FetchStall s(kAfter);
    auto x = sample(20, t0);
    for (int i = 0; i < 30; ++i) {
      x.expected += 1;  // a record every second
      x.fetch_offset += 1;
      x.asked_at = t0 + std::chrono::seconds(i);
      EXPECT_FALSE(s.stalled(x, t0 + std::chrono::seconds(i))) << i;
    }
  }
  {
    FetchStall s(kAfter);  // the leader has nothing more: caught up, however long
    for (int i = 0; i < 30; ++i) EXPECT_FALSE(s.stalled(sample(7, t0 + std::chrono::seconds(i)), t0 + std::chrono::seconds(i)));
  }
  {
    FetchStall s(kAfter);  // librdkafka fetched past it: the records are on their way to the consumer
    for (int i = 0; i < 30; ++i) {
      EXPECT_FALSE(s.stalled(sample(20, t0 + std::chrono::seconds(i), "active", 20), t0 + std::chrono::seconds(i)));
    }
  }
  {
    FetchStall s(kAfter);  // paused or stopped by the consumer
    auto x = sample(20, t0);
    x.wanted = false;
    for (int i = 0; i < 30; ++i) EXPECT_FALSE(s.stalled(x, t0 + std::chrono::seconds(i)));
    EXPECT_FALSE(s.suspect(t0 + 30s));
  }
}

TEST(FetchStall, OnlyALeaderAnswerAskedAfterTheLastMoveCounts) {
  const auto t0 = Clock::now();
  FetchStall s(kAfter);
  EXPECT_FALSE(s.stalled(sample(20, t0 - 1s), t0));
  EXPECT_FALSE(s.stalled(sample(20, t0 - 1s), t0 + 30s)) << "an answer from before the partition stopped moving";
  auto unanswered = sample(20, t0);
  unanswered.leader_end.reset();
  EXPECT_FALSE(s.stalled(unanswered, t0 + 40s)) << "the leader did not answer (it may be down)";
  EXPECT_TRUE(s.stalled(sample(20, t0 + 1s), t0 + 40s));
  auto unknown = sample(20, t0 + 1s);
  unknown.expected = -1;
  FetchStall u(kAfter);
  EXPECT_FALSE(u.stalled(unknown, t0));
  EXPECT_FALSE(u.stalled(unknown, t0 + 40s)) << "nothing known to compare with";
}

// librdkafka 2.0's report, cut down to what matters: brokers (with a toppars object
// whose keys look like partitions), topics with a batch-size object and partitions,
// including its "-1" queue.
const char* kReport = R"({"name":"c#consumer-1","type":"consumer",
 "brokers":{"localhost:9092/1":{"nodeid":1,"state":"UP","toppars":{"t-0":{"topic":"t","partition":0}}}},
 "topics":{
  "t":{"topic":"t","batchsize":{"min":0,"max":0},"partitions":{
    "0":{"partition":0,"fetch_state":"active","next_offset":25,"app_offset":25},
    "1":{"partition":1,"fetch_state":"stopped","next_offset":3},
    "-1":{"partition":-1,"fetch_state":"none","next_offset":0}}},
  "u":{"partitions":{"7":{"fetch_state":"offset-query","next_offset":-1001}}}},
 "cgrp":{"state":"up","partitions":{"0":{"fetch_state":"not a topic's"}}}})";

TEST(FetchStates, ReadsEachPartitionsFetchStateAndNextOffset) {
  const FetchStates s = read_fetch_states(kReport);
  ASSERT_EQ(s.size(), 3U);
  EXPECT_EQ(s.at({"t", 0}).state, "active");
  EXPECT_EQ(s.at({"t", 0}).next_offset, 25);
  EXPECT_TRUE(s.at({"t", 0}).fetching());
  EXPECT_EQ(s.at({"t", 1}).state, "stopped");
  EXPECT_FALSE(s.at({"t", 1}).fetching());
  EXPECT_EQ(s.at({"u", 7}).next_offset, -1001);
  EXPECT_TRUE(s.at({"u", 7}).fetching());
  EXPECT_TRUE(read_fetch_states("not json").empty());
  EXPECT_TRUE(read_fetch_states(R"({"topics":{"t":{"partitions":{"0":{"fetch_state":"active"}}}}})").size() == 1);
  EXPECT_TRUE(read_fetch_states(R"({"topics":{"t":{"partitions":{"0":{"fetch_state":"active"}}})").empty()) << "cut short";
  std::string deep(100, '[');
  EXPECT_TRUE(read_fetch_states(deep + std::string(100, ']')).empty());
}

}  // namespace
}  // namespace sluice::consumer
