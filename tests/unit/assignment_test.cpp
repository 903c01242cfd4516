// The consumer's assigned partitions (consumer/assignment.hpp) against a real segment:
// slots, epochs and what the supervisor reads, without a broker.
#include <gtest/gtest.h>

#include "consumer/assignment.hpp"
#include "shm/segment.hpp"

namespace sluice::consumer {
namespace {

shm::Segment segment(std::uint32_t epoch_slots = 8) {
  return shm::Segment::create({.name = "assignment-test", .workers = 1, .ring_bytes = 4096, .reply_ring_bytes = 4096,
                               .epoch_slots = epoch_slots, .config_json = "{}"});
}

TEST(Assignment, APartitionIsPublishedAssignedAndFoundByNameAndIndex) {
  const auto seg = segment();
  Assignment a(seg, {"orders", "payments"});
  EXPECT_EQ(a.add("elsewhere", 0), nullptr) << "not one of our topics";
  Partition* p = a.add("payments", 3);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->topic_index, 1);
  EXPECT_EQ(a.find("payments", 3), p);
  EXPECT_EQ(a.find(1, 3), p);
  EXPECT_EQ(a.find(Assignment::key_of(1, 3)), p);
  EXPECT_EQ(a.find("orders", 3), nullptr);
  EXPECT_EQ(a.find(1, 2), nullptr);
  EXPECT_EQ(a.find(7, 3), nullptr);
  const shm::PartitionStats& st = seg.partition_stats(p->slot);
  EXPECT_EQ(st.assigned.load(), 1U);
  EXPECT_EQ(st.topic_index.load(), 1U);
  EXPECT_EQ(st.partition.load(), 3);
  EXPECT_EQ(st.committed.load(), -1) << "nothing known yet";
}

TEST(Assignment, ARemovedPartitionGoesStaleAndKeepsItsSlotForItsReturn) {
  const auto seg = segment();
  Assignment a(seg, {"orders"});
  Partition* first = a.add("orders", 0);
  Partition* second = a.add("orders", 1);
  ASSERT_NE(first->slot, second->slot);
  const std::uint32_t slot = first->slot;
  const std::uint32_t epoch = first->epoch;
  a.remove(*first);
  EXPECT_EQ(a.find("orders", 0), nullptr);
  EXPECT_EQ(a.size(), 1U);
  EXPECT_EQ(seg.partition_stats(slot).assigned.load(), 0U);
  EXPECT_EQ(seg.epoch(slot).load(), epoch + 1) << "what is still in the rings for it is skipped";
  Partition* back = a.add("orders", 0);
  EXPECT_EQ(back->slot, slot);
  EXPECT_EQ(back->epoch, epoch + 1) << "records sent before the revoke stay stale after the return";
}

TEST(Assignment, ANewEpochIsOursEvenWhenAWorkerWroteTheTable) {
  const auto seg = segment();
  Assignment a(seg, {"orders"});
  Partition* p = a.add("orders", 0);
  a.new_epoch(*p);
  EXPECT_EQ(p->epoch, 1U);
  seg.epoch(p->slot).store(77);  // a worker scribbling over the table
  a.new_epoch(*p);
  EXPECT_EQ(p->epoch, 2U) << "never read back from shared memory";
  seg.epoch(p->slot).store(77);
  a.republish_epochs();
  EXPECT_EQ(seg.epoch(p->slot).load(), 2U);
}

TEST(Assignment, MorePartitionsThanSlotsIsAnError) {
  const auto seg = segment(2);
  Assignment a(seg, {"orders"});
  a.add("orders", 0);
  a.add("orders", 1);
  EXPECT_THROW(a.add("orders", 2), std::runtime_error);
  a.remove(*a.find("orders", 0));
  EXPECT_NE(a.add("orders", 0), nullptr) << "a partition that had a slot gets it back";
}

}  // namespace
}  // namespace sluice::consumer
