// The bookkeeping that joins an invocation's records to the broker's answers about the
// records its handler asked to produce (consumer/invocations.hpp).
#include "consumer/invocations.hpp"

#include <gtest/gtest.h>

namespace sluice::consumer {
namespace {

Invocations::Member member(std::int64_t offset) { return {.topic_index = 0, .partition = 2, .offset = offset, .epoch = 1}; }

TEST(Invocations, MembersSettleOnlyWhenTheBrokerAcknowledgedEveryRecordOfTheirLeader) {
  Invocations inv;
  inv.join(12, member(10));
  inv.join(12, member(11));
  inv.join(12, member(12));  // the leader itself
  inv.sent(12, 3);
  EXPECT_TRUE(inv.waiting(12));
  EXPECT_FALSE(inv.acked(12)) << "two of three still unacknowledged";
  EXPECT_FALSE(inv.acked(12)) << "one of three still unacknowledged";
  const auto s = inv.acked(12);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->refused.empty());
  ASSERT_EQ(s->members.size(), 3U);
  EXPECT_EQ(s->members[0].offset, 10);
  EXPECT_EQ(s->members[2].offset, 12);
  EXPECT_FALSE(inv.waiting(12));
  EXPECT_TRUE(inv.empty());
}

TEST(Invocations, OneRefusedRecordFailsTheWholeInvocationOnceEveryAnswerIsIn) {
  Invocations inv;
  inv.join(5, member(4));
  inv.join(5, member(5));
  inv.sent(5, 2);
  EXPECT_FALSE(inv.refused(5, "topic does not exist")) << "the other record's answer is still to come";
  const auto s = inv.acked(5);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->refused, "topic does not exist") << "an acknowledgement after a refusal does not undo it";
  EXPECT_EQ(s->members.size(), 2U);
}

TEST(Invocations, MembersOfALeaderThatProducedNothingSettleWhenTheLeaderIsReaped) {
  Invocations inv;
  inv.join(9, member(7));
  inv.join(9, member(8));
  EXPECT_TRUE(inv.waiting(9));
  const auto s = inv.reaped_without_records(9);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->refused.empty());
  EXPECT_EQ(s->members.size(), 2U);
  EXPECT_FALSE(inv.reaped_without_records(9)) << "settled once";
  EXPECT_FALSE(inv.reaped_without_records(3)) << "a record no member waits for settles nothing";
}

TEST(Invocations, ALeaderWithRecordsInFlightIsNotSettledByBeingReaped) {
  Invocations inv;
  inv.join(20, member(20));
  inv.sent(20, 1);
  EXPECT_FALSE(inv.reaped_without_records(20));
  EXPECT_TRUE(inv.waiting(20));
}

TEST(Invocations, LateOrUnknownAnswersSettleNothing) {
  Invocations inv;
  EXPECT_FALSE(inv.acked(1));
  EXPECT_FALSE(inv.refused(1, "x"));
  inv.join(2, member(1));  // members only, nothing sent: an answer for it is not one we asked for
  EXPECT_FALSE(inv.acked(2));
  EXPECT_TRUE(inv.waiting(2));
}

TEST(Invocations, ARevokedLeaderStillCarriesItsMembersThrough) {
  // A leader whose partition was revoked sends its records without joining; members in
  // partitions still owned complete when they are acknowledged.
  Invocations inv;
  inv.join(30, member(28));
  inv.sent(30, 2);
  EXPECT_FALSE(inv.acked(30));
  const auto s = inv.acked(30);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->members.size(), 1U);
  EXPECT_EQ(s->members[0].offset, 28);
}

}  // namespace
}  // namespace sluice::consumer
