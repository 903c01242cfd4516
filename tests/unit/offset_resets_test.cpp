// What the consumer does when librdkafka has no valid position for a partition
// (consumer/offset_resets.hpp), against a real segment and the consumer's real
// assignment; the brokers' answers are given, the partition actions recorded.
#include "consumer/offset_resets.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "consumer_fixture.hpp"

namespace sluice::consumer {
namespace {

struct Harness : test::ConsumerParts {
  explicit Harness(config::OffsetReset policy) : ConsumerParts("resets") { lambda.auto_offset_reset = policy; }
  OffsetResets make() {
    return OffsetResets(
        lambda, seg.stats(), assignment,
        OffsetResets::Broker{[this](std::vector<kafka::Watermarks>& w) {
                               ++watermark_requests;
                               for (auto& e : w) {
                                 e.low = low;
                                 e.high = high;
                               }
                               return watermark_error;
                             },
                             [this](rd_kafka_topic_partition_list_t& l) {
                               ++resolve_requests;
                               for (int i = 0; i < l.cnt; ++i) {
                                 l.elems[i].offset = l.elems[i].offset == RD_KAFKA_OFFSET_BEGINNING ? low : high;
                               }
                               return resolve_error;
                             }},
        OffsetResets::Actions{[this](Partition& p) { stopped.push_back(p.partition); },
                              [this](Partition& p) { dropped.push_back(p.partition); },
                              [this](const OffsetResets::Starts& s) {
                                ++restarts;
                                for (const auto& [p, at] : s) starts.emplace_back(p->partition, at);
                              }});
  }

  std::int64_t low = 100;
  std::int64_t high = 250;
  rd_kafka_resp_err_t watermark_error = RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_resp_err_t resolve_error = RD_KAFKA_RESP_ERR_NO_ERROR;
  int watermark_requests = 0;
  int resolve_requests = 0;
  int restarts = 0;
  std::vector<std::int32_t> stopped;
  std::vector<std::int32_t> dropped;
  std::vector<std::pair<std::int32_t, std::int64_t>> starts;
};

TEST(OffsetResets, PartitionsWithoutACommittedOffsetStartTogetherAtOneResolvedOffsetEach) {
  Harness h(config::OffsetReset::kLatest);
  auto resets = h.make();
  Partition* p0 = h.assignment.add("orders", 0);
  Partition* p1 = h.assignment.add("orders", 1);
  resets.note(*p0, RD_KAFKA_OFFSET_INVALID);
  resets.note(*p1, RD_KAFKA_OFFSET_INVALID);
  resets.note(*p0, RD_KAFKA_OFFSET_INVALID);  // reported twice in one batch
  ASSERT_TRUE(resets.pending());
  resets.handle();
  EXPECT_FALSE(resets.pending());
  EXPECT_EQ(h.resolve_requests, 1) << "one ListOffsets for every fresh partition";
  EXPECT_EQ(h.restarts, 1) << "one restart for all of them";
  EXPECT_EQ(h.starts, (std::vector<std::pair<std::int32_t, std::int64_t>>{{0, 250}, {1, 250}}));
  EXPECT_EQ(p0->tracker.committable(), 250) << "the resolved start is what the group commits once reached";
  EXPECT_TRUE(h.stopped.empty());
  EXPECT_EQ(h.seg.stats().offset_resets.load(), 0U) << "a fresh group lost nothing";
}

TEST(OffsetResets, AnUnresolvedFreshStartIsLeftToLibrdkafkaAndCommitsNothingBeforeARecord) {
  Harness h(config::OffsetReset::kEarliest);
  h.resolve_error = RD_KAFKA_RESP_ERR__TIMED_OUT;
  auto resets = h.make();
  Partition* p = h.assignment.add("orders", 3);
  resets.note(*p, RD_KAFKA_OFFSET_INVALID);
  resets.handle();
  EXPECT_EQ(h.starts, (std::vector<std::pair<std::int32_t, std::int64_t>>{{3, RD_KAFKA_OFFSET_BEGINNING}}));
  EXPECT_LT(p->tracker.committable(), 0);
}

TEST(OffsetResets, ErrorPolicyStopsAPartitionWithoutACommittedOffsetWithoutAskingTheBroker) {
  Harness h(config::OffsetReset::kError);
  auto resets = h.make();
  Partition* p = h.assignment.add("orders", 0);
  resets.note(*p, RD_KAFKA_OFFSET_INVALID);
  resets.handle();
  EXPECT_EQ(h.stopped, std::vector<std::int32_t>{0});
  EXPECT_EQ(h.watermark_requests + h.resolve_requests, 0);
  EXPECT_EQ(h.restarts, 0);
}

TEST(OffsetResets, RecordsLostToRetentionAreCountedAndTheFetchMovesToTheLogStart) {
  Harness h(config::OffsetReset::kEarliest);
  auto resets = h.make();
  Partition* p = h.assignment.add("orders", 0);
  p->tracker.skip_to(40);
  resets.note(*p, 40);
  resets.handle();
  EXPECT_EQ(h.seg.stats().offset_resets.load(), 1U);
  EXPECT_EQ(h.seg.stats().offsets_skipped.load(), 60U) << "offsets 40..99 are gone";
  EXPECT_EQ(h.starts, (std::vector<std::pair<std::int32_t, std::int64_t>>{{0, 100}}));
  EXPECT_TRUE(h.dropped.empty()) << "forwards: what is in flight below 100 still completes";
  EXPECT_EQ(p->tracker.committable(), 100);
}

TEST(OffsetResets, ALogCutBelowThePositionMakesWhatIsInFlightStaleBeforeTheFetchRestarts) {
  Harness h(config::OffsetReset::kLatest);
  h.high = 30;  // the topic was recreated: its end is behind our position
  auto resets = h.make();
  Partition* p = h.assignment.add("orders", 0);
  resets.note(*p, 500);
  resets.handle();
  EXPECT_EQ(h.dropped, std::vector<std::int32_t>{0});
  EXPECT_EQ(h.starts, (std::vector<std::pair<std::int32_t, std::int64_t>>{{0, 30}}));
  EXPECT_EQ(h.seg.stats().offsets_skipped.load(), 0U);
}

TEST(OffsetResets, AnOutOfRangeOffsetStopsThePartitionUnderErrorOrWhenTheLogsRangeIsUnknown) {
  for (const bool unknown_range : {false, true}) {
    Harness h(unknown_range ? config::OffsetReset::kEarliest : config::OffsetReset::kError);
    if (unknown_range) h.watermark_error = RD_KAFKA_RESP_ERR__TRANSPORT;
    auto resets = h.make();
    Partition* p = h.assignment.add("orders", 2);
    resets.note(*p, 40);
    resets.handle();
    EXPECT_EQ(h.stopped, std::vector<std::int32_t>{2}) << (unknown_range ? "range unknown" : "policy error");
    EXPECT_EQ(h.restarts, 0);
    EXPECT_EQ(h.seg.stats().offset_resets.load(), 1U) << "reported either way";
  }
}

TEST(OffsetResets, AResetOfAPartitionRevokedBeforeItIsHandledIsDropped) {
  Harness h(config::OffsetReset::kEarliest);
  auto resets = h.make();
  Partition* p = h.assignment.add("orders", 0);
  resets.note(*p, 40);
  h.assignment.remove(*p);
  resets.handle();
  EXPECT_EQ(h.watermark_requests, 0);
  EXPECT_EQ(h.restarts, 0);
  EXPECT_TRUE(h.stopped.empty());
}

}  // namespace
}  // namespace sluice::consumer
