// What the consumer knows of a record that comes back from Kafka with a history
// (consumer/suspects.hpp): attempts carried over a consumer restart, suspects of a
// broken ring, and records whose outbound records were refused.
#include "consumer/suspects.hpp"

#include <gtest/gtest.h>

namespace sluice::consumer {
namespace {

const Suspects::Key kP = Assignment::key_of(0, 3);
const Suspects::Key kOther = Assignment::key_of(1, 3);

TEST(Suspects, CarriedAttemptsAreCappedAndWhatCannotBeOursIsLeftOut) {
  Suspects s(5);
  s.carry({{.topic_index = 0, .partition = 3, .offset = 10, .attempts = 2},
           {.topic_index = 0, .partition = 3, .offset = 11, .attempts = 99},
           {.topic_index = 0, .partition = 3, .offset = 12, .attempts = 0},   // never tried
           {.topic_index = 7, .partition = 3, .offset = 13, .attempts = 1}},  // no such topic
          2);
  const Suspects::Entry* tried = s.find(kP, 10);
  ASSERT_NE(tried, nullptr);
  EXPECT_EQ(tried->attempts, 2U);
  EXPECT_FALSE(s.exhausted(*tried)) << "three attempts are left";
  const Suspects::Entry* spent = s.find(kP, 11);
  ASSERT_NE(spent, nullptr);
  EXPECT_EQ(spent->attempts, 5U) << "capped at max_attempts";
  EXPECT_TRUE(s.exhausted(*spent));
  EXPECT_NE(spent->reason.find("consumer restarted"), std::string::npos) << spent->reason;
  EXPECT_EQ(s.find(kP, 12), nullptr);
  EXPECT_EQ(s.find(Assignment::key_of(7, 3), 13), nullptr);
}

TEST(Suspects, ASuspectIsChargedOnlyWhenItIsCertainAndNeverLosesAttempts) {
  Suspects s(3);
  s.suspect(kP, 20);  // in the ring, but another record may have broken it
  const Suspects::Entry* e = s.find(kP, 20);
  ASSERT_NE(e, nullptr) << "a suspect goes alone into its ring next time";
  EXPECT_EQ(e->attempts, 0U);
  EXPECT_FALSE(s.exhausted(*e));
  s.charge(kP, 20, 2, "worker 1 broke the ring protocol while handling it");
  EXPECT_EQ(s.find(kP, 20)->attempts, 2U);
  s.charge(kP, 20, 1, "an older count");
  EXPECT_EQ(s.find(kP, 20)->attempts, 2U) << "a smaller count never replaces a larger one";
  s.suspect(kP, 20);
  EXPECT_EQ(s.find(kP, 20)->attempts, 2U) << "suspecting again keeps the charge";
  s.charge(kP, 20, 3, "worker 0 broke the ring protocol while handling it");
  EXPECT_TRUE(s.exhausted(*s.find(kP, 20)));
  EXPECT_EQ(s.find(kP, 20)->reason, "worker 0 broke the ring protocol while handling it");
}

TEST(Suspects, ARefusedInvocationFailsAtOnceEvenWithAttemptsLeft) {
  Suspects s(10);
  s.fail(kP, 30, "a record it produced to out was refused: Broker: Message size too large");
  const Suspects::Entry* e = s.find(kP, 30);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(s.exhausted(*e));
  EXPECT_EQ(e->attempts, 1U) << "the attempt that asked for the records counts";
  EXPECT_NE(e->reason.find("refused"), std::string::npos);
}

TEST(Suspects, EntriesAreUsedUpOnDispatchAndForgottenWithTheirPartition) {
  Suspects s(3);
  EXPECT_TRUE(s.empty());
  s.suspect(kP, 1);
  s.suspect(kP, 2);
  s.suspect(kOther, 1);
  s.erase(kP, 1);
  EXPECT_EQ(s.find(kP, 1), nullptr);
  EXPECT_NE(s.find(kP, 2), nullptr);
  EXPECT_NE(s.find(kOther, 1), nullptr) << "the same offset of another topic is another record";
  s.erase(kP, 99);  // nothing there: nothing happens
  s.forget(kP);  // the operator resumed the partition: its records start afresh
  EXPECT_EQ(s.find(kP, 2), nullptr);
  EXPECT_NE(s.find(kOther, 1), nullptr);
  s.erase(kOther, 1);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace sluice::consumer
