// The failure path's skip and stop policies (consumer/failure_path.hpp) against a real
// segment and the consumer's real assignment. The dead-letter policy needs a broker:
// the Failure.* integration tests.
#include "consumer/failure_path.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "consumer_fixture.hpp"

namespace sluice::consumer {
namespace {

struct Harness : test::ConsumerParts {
  explicit Harness(config::OnFailure policy) : ConsumerParts("failures") { lambda.on_failure = policy; }
  FailurePath make() {
    return FailurePath(lambda, seg.stats(), assignment, [this](Partition& p) { stopped.push_back(p.partition); });
  }
  DeadLetter letter(const Partition& p, std::int64_t offset) {
    return DeadLetter{p.topic_index, p.topic, p.partition, offset, p.epoch, 3, "poison", std::nullopt, std::nullopt, {}};
  }

  std::vector<std::int32_t> stopped;
};

TEST(FailurePath, SkipCompletesTheRecordSoTheCommitMovesPastIt) {
  Harness h(config::OnFailure::kSkip);
  auto f = h.make();
  Partition* p = h.assignment.add("orders", 0);
  p->tracker.dispatched(0);
  p->tracker.dispatched(1);
  p->tracker.completed(1);
  f.fail(*p, h.letter(*p, 0));
  EXPECT_EQ(p->tracker.committable(), 2);
  EXPECT_EQ(h.seg.stats().failed.load(), 1U);
  EXPECT_EQ(h.seg.stats().skipped.load(), 1U);
  EXPECT_TRUE(h.stopped.empty());
}

TEST(FailurePath, StopHoldsThePartitionAtTheFailedRecord) {
  Harness h(config::OnFailure::kStop);
  auto f = h.make();
  Partition* p = h.assignment.add("orders", 4);
  p->tracker.dispatched(7);
  f.fail(*p, h.letter(*p, 7));
  EXPECT_EQ(h.stopped, std::vector<std::int32_t>{4});
  EXPECT_EQ(p->tracker.committable(), 7) << "nothing past the failed record is committed";
  EXPECT_EQ(h.seg.stats().failed.load(), 1U);
  EXPECT_EQ(h.seg.stats().skipped.load(), 0U);
}

TEST(FailurePath, ASkippedRecordOfAPartitionRevokedSinceItWasSentCompletesNothing) {
  Harness h(config::OnFailure::kSkip);
  auto f = h.make();
  Partition* p = h.assignment.add("orders", 0);
  p->tracker.dispatched(0);
  DeadLetter stale = h.letter(*p, 0);
  h.assignment.new_epoch(*p);  // fetched again from an earlier offset meanwhile
  f.fail(*p, std::move(stale));
  EXPECT_EQ(h.seg.stats().skipped.load(), 0U);
  EXPECT_EQ(p->tracker.committable(), 0);
}

}  // namespace
}  // namespace sluice::consumer
