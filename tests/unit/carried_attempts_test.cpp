// The attempts the supervisor carries from a dead consumer's rings to the next consumer.
#include <gtest/gtest.h>

#include <cstring>

#include "shm/carried_attempts.hpp"
#include "shm/ring.hpp"
#include "shm_fixture.hpp"

namespace sluice::shm {
namespace {

void put(RingWriter& w, std::int32_t partition, std::int64_t offset, std::uint32_t attempts, Status status) {
  RecordHeader* h = w.try_reserve(record_size(0, 8, 0));
  ASSERT_NE(h, nullptr);
  h->kind = RecordKind::kRecord;
  h->key_len = 0;
  h->headers_len = 0;
  h->topic_index = 1;
  h->partition = partition;
  h->offset = offset;
  h->value_len = 8;
  h->attempts.store(attempts);
  h->status.store(status);
  w.commit();
}

TEST(CarriedAttempts, OnlyRecordsTriedAndUnfinishedFromTheReadPositionOn) {
  Segment seg = test::make_segment("carried", 1, 4096);
  RingWriter w{seg.forward(0)};
  put(w, 0, 10, 1, Status::kOk);       // finished and released below
  put(w, 0, 11, 2, Status::kPending);  // tried twice: carried
  put(w, 3, 7, 0, Status::kPending);   // never taken: Kafka delivers it afresh anyway
  put(w, 3, 8, 1, Status::kFailed);    // finished: its outcome is owed, not its attempts
  put(w, 3, 9, 4, Status::kPending);
  w.publish();
  RingReader r{seg.forward(0)};
  ASSERT_NE(r.peek(), nullptr);
  r.advance();
  r.release();  // the worker finished offset 10
  const auto got = pending_attempts(seg.forward(0), 100);
  const std::vector<CarriedAttempt> want = {{1, 0, 11, 2}, {1, 3, 9, 4}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(pending_attempts(seg.forward(0), 1).size(), 1U) << "bounded";
  EXPECT_EQ(decode_carried(encode_carried(got)), got);
  EXPECT_TRUE(decode_carried("garbage").empty());
}

TEST(CarriedAttempts, ACorruptRingYieldsWhatCameBeforeTheCorruption) {
  Segment seg = test::make_segment("carried2", 1, 4096);
  RingWriter w{seg.forward(0)};
  put(w, 0, 1, 1, Status::kPending);
  RecordHeader* second = w.try_reserve(record_size(0, 8, 0));
  ASSERT_NE(second, nullptr);
  second->key_len = 0;
  second->value_len = 0;
  second->headers_len = 0;
  w.commit();
  second->size = 0;  // what a scribbling worker could leave
  second->kind = RecordKind::kRecord;
  w.publish();
  const auto got = pending_attempts(seg.forward(0), 100);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].offset, 1);
}

}  // namespace
}  // namespace sluice::shm
