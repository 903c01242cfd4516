// The consumer's side of the rings (consumer/worker_rings.hpp) on a real segment, with
// the test as the worker: which ring a record goes to, the walk that checks a worker's
// read position against what was written, quarantine and reset, suspects alone.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "consumer/worker_rings.hpp"
#include "shm/records.hpp"
#include "shm_fixture.hpp"

namespace sluice::consumer {
namespace {

using Sent = WorkerRings::Sent;

// Writes a record with an 8-byte value into ring r, as dispatch does.
void put(WorkerRings& rings, std::uint32_t r, std::uint64_t seq, bool alone = false) {
  shm::RecordHeader* h = rings.try_reserve(r, shm::record_size(0, 8, 0));
  ASSERT_NE(h, nullptr);
  shm::write_forward(h, {.seq = seq, .offset = static_cast<std::int64_t>(seq), .value_len = 8});
  rings.commit(r, Sent{.seq = seq, .offset = static_cast<std::int64_t>(seq), .value_len = 8}, alone);
}

// The worker of ring r takes `n` records and releases them.
void worker_finishes(const shm::Segment& seg, std::uint32_t r, int n) {
  shm::RingReader reader(seg.forward(r));
  for (int i = 0; i < n; ++i) {
    ASSERT_NE(reader.peek(), nullptr) << "record " << i;
    reader.advance();
  }
  reader.release();
}

auto no_reply = [](const shm::RecordHeader*, std::uint32_t) { return std::string(); };

std::vector<std::uint64_t> reap_seqs(WorkerRings& rings, std::uint32_t r, std::string* why = nullptr) {
  std::vector<std::uint64_t> seqs;
  const std::string reason = rings.reap(r, no_reply, [&](const Sent& s) {
    seqs.push_back(s.seq);
    return true;
  });
  if (why != nullptr) *why = reason;
  return seqs;
}

TEST(WorkerRings, ARecordGoesToItsPartitionsRingOrItsKeysOrTheLeastLoaded) {
  shm::Segment seg = test::make_segment("rings-choose", 3, 4096);
  WorkerRings rings(seg);
  EXPECT_EQ(rings.choose(config::Ordering::kPartition, 0, 0, nullptr, 0), 0U);
  EXPECT_EQ(rings.choose(config::Ordering::kPartition, 1, 0, nullptr, 0), 1U);
  EXPECT_EQ(rings.choose(config::Ordering::kPartition, 5, 0, nullptr, 0), 2U);
  const std::string key = "customer-42";
  const auto by_key = rings.choose(config::Ordering::kKey, 0, 0, key.data(), key.size());
  for (std::int32_t p = 0; p < 6; ++p) {
    EXPECT_EQ(rings.choose(config::Ordering::kKey, p, 0, key.data(), key.size()), by_key) << "a key keeps its ring";
  }
  EXPECT_EQ(rings.choose(config::Ordering::kKey, 2, 0, nullptr, 0), 2U) << "no key: by partition";

  put(rings, 0, 1);
  put(rings, 1, 2);
  EXPECT_EQ(rings.choose(config::Ordering::kNone, 0, 0, nullptr, 0), 2U) << "the empty ring";
  ASSERT_TRUE(rings.quarantine(2).has_value());
  const auto next = rings.choose(config::Ordering::kNone, 0, 0, nullptr, 0);
  EXPECT_NE(next, 2U) << "never a quarantined ring";
}

TEST(WorkerRings, ReapHandsBackWhatTheWorkerReleasedOldestFirst) {
  shm::Segment seg = test::make_segment("rings-reap", 1, 4096);
  WorkerRings rings(seg);
  for (std::uint64_t seq = 1; seq <= 3; ++seq) put(rings, 0, seq);
  rings.publish_all(true);
  EXPECT_TRUE(rings.waiting(0, 2));
  EXPECT_TRUE(reap_seqs(rings, 0).empty()) << "nothing released yet";

  worker_finishes(seg, 0, 2);
  std::string why;
  EXPECT_EQ(reap_seqs(rings, 0, &why), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(why, "");
  EXPECT_EQ(rings.in_ring(0), 1U);
  EXPECT_FALSE(rings.waiting(0, 2));
  EXPECT_TRUE(rings.waiting(0, 3));
}

TEST(WorkerRings, ARecordWhoseOutcomeBrokeTheProtocolEndsTheWalk) {
  shm::Segment seg = test::make_segment("rings-stop", 1, 4096);
  WorkerRings rings(seg);
  for (std::uint64_t seq = 1; seq <= 3; ++seq) put(rings, 0, seq);
  rings.publish_all(true);
  worker_finishes(seg, 0, 3);
  std::vector<std::uint64_t> seen;
  const std::string why = rings.reap(0, no_reply, [&](const Sent& s) {
    seen.push_back(s.seq);
    return s.seq != 2;  // the caller quarantined the ring over record 2
  });
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(why, "");
}

TEST(WorkerRings, AReadPositionOutsideWhatWasWrittenOrInsideARecordIsAReasonToQuarantine) {
  shm::Segment seg = test::make_segment("rings-pos", 1, 4096);
  WorkerRings rings(seg);
  put(rings, 0, 1);
  put(rings, 0, 2);
  rings.publish_all(true);
  const std::uint64_t one = shm::record_size(0, 8, 0);
  seg.ring(0).read_pos.store(3 * one);  // past what was published
  std::string why;
  EXPECT_TRUE(reap_seqs(rings, 0, &why).empty());
  EXPECT_NE(why.find("is outside 0.." + std::to_string(2 * one)), std::string::npos) << why;

  seg.ring(0).read_pos.store(one + 8);  // inside the second record
  EXPECT_EQ(reap_seqs(rings, 0, &why), (std::vector<std::uint64_t>{1}));
  EXPECT_NE(why.find("is not between two records"), std::string::npos) << why;
}

TEST(WorkerRings, AReplyTheConsumerRejectsOrACorruptReplyRingIsAReasonToQuarantine) {
  shm::Segment seg = test::make_segment("rings-reply", 1, 4096);
  WorkerRings rings(seg);
  shm::RingWriter replies(seg.reply(0));  // the worker's side
  shm::RecordHeader* h = replies.try_reserve(shm::record_size(0, 0, 0));
  ASSERT_NE(h, nullptr);
  h->kind = shm::RecordKind::kReply;
  replies.commit();
  replies.publish();
  const std::string why = rings.reap(
      0, [](const shm::RecordHeader*, std::uint32_t) { return std::string("no record with seq 7 is waiting"); },
      [](const Sent&) { return true; });
  EXPECT_EQ(why, "its reply ring holds a record no worker writes: no record with seq 7 is waiting");

  shm::Segment bad = test::make_segment("rings-reply-corrupt", 1, 4096);
  WorkerRings rings2(bad);
  shm::RingWriter scribbler(bad.reply(0));
  shm::RecordHeader* junk = scribbler.try_reserve(shm::record_size(0, 0, 0));
  ASSERT_NE(junk, nullptr);
  scribbler.commit();
  junk->kind = static_cast<shm::RecordKind>(0x7F);  // no kind a ring holds
  scribbler.publish();
  const std::string corrupt = rings2.reap(0, no_reply, [](const Sent&) { return true; });
  EXPECT_EQ(corrupt.rfind("its reply ring is corrupt: ", 0), 0U) << corrupt;
}

TEST(WorkerRings, AQuarantinedRingGivesUpItsRecordsOnceAndTakesNothingUntilItIsReset) {
  shm::Segment seg = test::make_segment("rings-quarantine", 2, 4096);
  WorkerRings rings(seg);
  put(rings, 1, 1);
  put(rings, 1, 2);
  EXPECT_FALSE(rings.any_quarantined());
  const auto taken = rings.quarantine(1);
  ASSERT_TRUE(taken.has_value());
  ASSERT_EQ(taken->records.size(), 2U);
  EXPECT_EQ(taken->records[0].seq, 1U);
  EXPECT_EQ(taken->records[1].seq, 2U);
  EXPECT_FALSE(taken->alone);
  EXPECT_FALSE(rings.quarantine(1).has_value()) << "once";
  EXPECT_FALSE(rings.open(1));
  EXPECT_TRUE(rings.any_quarantined());
  EXPECT_EQ(rings.in_ring(1), 0U);
  EXPECT_TRUE(rings.open(0)) << "the other ring is not touched";

  // The supervisor reset it (its worker is dead).
  shm::ring_reset(seg.ring(1));
  shm::ring_reset(seg.reply_ring(1));
  rings.reset(1);
  EXPECT_TRUE(rings.open(1));
  EXPECT_FALSE(rings.any_quarantined());
  put(rings, 1, 3);
  rings.publish_all(true);
  worker_finishes(seg, 1, 1);
  EXPECT_EQ(reap_seqs(rings, 1), (std::vector<std::uint64_t>{3})) << "positions start over with the ring";
}

TEST(WorkerRings, ASuspectHasItsRingToItselfUntilItIsReaped) {
  shm::Segment seg = test::make_segment("rings-solo", 1, 4096);
  WorkerRings rings(seg);
  put(rings, 0, 1, /*alone=*/true);
  EXPECT_FALSE(rings.open(0));
  rings.publish_all(true);
  worker_finishes(seg, 0, 1);
  EXPECT_EQ(reap_seqs(rings, 0), (std::vector<std::uint64_t>{1}));
  EXPECT_TRUE(rings.open(0));

  put(rings, 0, 2, /*alone=*/true);
  const auto taken = rings.quarantine(0);
  ASSERT_TRUE(taken.has_value());
  EXPECT_TRUE(taken->alone) << "alone in the ring: the one that broke it";
}

TEST(WorkerRings, RecordsAreHeldOnlyByStalledWorkersWhenEveryRingHoldingOneIsUnavailableOrEndedWhileStopping) {
  shm::Segment seg = test::make_segment("rings-stalled", 2, 4096);
  WorkerRings rings(seg);
  for (std::uint32_t r = 0; r < 2; ++r) seg.worker_slot(r).reader_pid.store(1000 + static_cast<std::int32_t>(r));
  EXPECT_FALSE(rings.held_only_by_stalled_workers(true, 0)) << "nothing in a ring";
  put(rings, 0, 1);
  put(rings, 0, 2);
  EXPECT_FALSE(rings.held_only_by_stalled_workers(false, 2)) << "a live worker with its handler up";
  seg.worker_stats(0).unavailable_since_ns.store(5);
  EXPECT_TRUE(rings.held_only_by_stalled_workers(false, 2));
  EXPECT_FALSE(rings.held_only_by_stalled_workers(false, 3)) << "one record waits for the broker, not a worker";

  put(rings, 1, 3);
  EXPECT_FALSE(rings.held_only_by_stalled_workers(true, 3)) << "ring 1's worker lives and its handler is up";
  seg.worker_slot(1).reader_pid.store(0);  // the supervisor reaped it
  EXPECT_FALSE(rings.held_only_by_stalled_workers(false, 3)) << "not stopping: a replacement will come";
  EXPECT_TRUE(rings.held_only_by_stalled_workers(true, 3)) << "stopping: no replacement comes";
}

}  // namespace
}  // namespace sluice::consumer
