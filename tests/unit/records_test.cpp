// The one wire codec of the rings (shm/records.hpp): what a writer puts in, the reader
// gets back, per kind; and a reply of a kind no worker writes, or with lengths that do
// not add up, is an error naming what is wrong rather than a failure reason.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "shm/records.hpp"

namespace sluice::shm {
namespace {

// A record-sized, suitably aligned buffer standing in for a place in a ring.
struct Slot {
  explicit Slot(std::uint32_t size) : bytes(size / 8 + 1), size(size) {}
  RecordHeader* h() { return reinterpret_cast<RecordHeader*>(bytes.data()); }
  std::vector<std::uint64_t> bytes;
  std::uint32_t size;
};

TEST(Records, AForwardRecordCarriesEveryField) {
  Slot s(record_size(3, 5, 0));
  write_forward(s.h(), {.seq = 7, .offset = 42, .timestamp_ms = 1000, .enqueue_ns = 99, .partition = 3, .slot = 4,
                        .epoch = 5, .topic_index = 1, .timestamp_type = 1, .key_null = false, .value_null = true,
                        .key_len = 3, .value_len = 5, .headers_len = 0, .attempts = 2});
  const auto f = read_fields(s.h(), s.size);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->kind, RecordKind::kRecord);
  EXPECT_EQ(f->seq, 7U);
  EXPECT_EQ(f->offset, 42);
  EXPECT_EQ(f->partition, 3);
  EXPECT_EQ(f->topic_index, 1);
  EXPECT_EQ(f->flags, kFlagValueNull);
  EXPECT_EQ(f->attempts, 2U);
  EXPECT_EQ(s.h()->slot, 4U);
  EXPECT_EQ(s.h()->epoch, 5U);
  EXPECT_EQ(s.h()->status.load(), Status::kPending);
}

TEST(Records, EachReplyKindReadsBackAsWritten) {
  RecordHeader of{};
  of.seq = 11;
  of.attempts.store(3);
  Slot reason(reason_size(6));
  write_reason(reason.h(), of, "broken");
  const Reply r1 = read_reply(reason.h(), reason.size);
  ASSERT_TRUE(std::holds_alternative<ReasonReply>(r1));
  EXPECT_EQ(std::get<ReasonReply>(r1).seq, 11U);
  EXPECT_EQ(std::get<ReasonReply>(r1).attempt, 3U);
  EXPECT_EQ(std::get<ReasonReply>(r1).reason, "broken");

  Slot out(outbound_size(3, 1, 2, 0));
  write_outbound(out.h(), 12, 1, "dst", -1, "k", 1, "vv", 2, nullptr, 0);
  const Reply r2 = read_reply(out.h(), out.size);
  ASSERT_TRUE(std::holds_alternative<OutboundReply>(r2));
  const auto& o = std::get<OutboundReply>(r2);
  EXPECT_EQ(o.seq, 12U);
  EXPECT_EQ(o.topic, "dst");
  EXPECT_EQ(o.partition, -1);
  EXPECT_EQ(std::string(o.key, o.key_len), "k");
  EXPECT_EQ(std::string(o.value, o.value_len), "vv");

  Slot null_key(outbound_size(3, 0, 0, 0));
  write_outbound(null_key.h(), 12, 1, "dst", 2, nullptr, 0, nullptr, 0, nullptr, 0);
  const Reply r_null = read_reply(null_key.h(), null_key.size);
  const auto& n = std::get<OutboundReply>(r_null);
  EXPECT_EQ(n.key, nullptr);
  EXPECT_EQ(n.value, nullptr);
  EXPECT_EQ(n.partition, 2);

  Slot await(kAwaitSize);
  write_await(await.h(), 13, 1, 12);
  const Reply r3 = read_reply(await.h(), await.size);
  ASSERT_TRUE(std::holds_alternative<AwaitReply>(r3));
  EXPECT_EQ(std::get<AwaitReply>(r3).seq, 13U);
  EXPECT_EQ(std::get<AwaitReply>(r3).leader_seq, 12U);
}

std::string bad(const Reply& r) { return std::holds_alternative<BadReply>(r) ? std::get<BadReply>(r).why : "(accepted)"; }

TEST(Records, RepliesNoWorkerWritesAreErrorsThatSayWhy) {
  Slot s(record_size(8, 8, 0));
  write_forward(s.h(), {.seq = 1, .key_len = 8, .value_len = 8});
  EXPECT_NE(bad(read_reply(s.h(), s.size)).find("kind 1, which no worker writes"), std::string::npos);
  s.h()->kind = static_cast<RecordKind>(77);
  EXPECT_NE(bad(read_reply(s.h(), s.size)).find("kind 77"), std::string::npos);

  Slot out(outbound_size(3, 1, 0, 0));
  write_outbound(out.h(), 1, 1, "dst", -1, "k", 1, nullptr, 0, nullptr, 0);
  out.h()->aux = 5;  // the topic would run past the key area
  EXPECT_NE(bad(read_reply(out.h(), out.size)).find("topic is longer"), std::string::npos);

  Slot await(kAwaitSize);
  write_await(await.h(), 2, 1, 1);
  await.h()->value_len = 4;
  EXPECT_NE(bad(read_reply(await.h(), await.size)).find("not a sequence number"), std::string::npos);

  Slot reason(reason_size(4));
  RecordHeader of{};
  write_reason(reason.h(), of, "why?");
  reason.h()->value_len = 1 << 20;  // beyond the record
  EXPECT_NE(bad(read_reply(reason.h(), reason.size)).find("do not fit"), std::string::npos);
}

}  // namespace
}  // namespace sluice::shm
