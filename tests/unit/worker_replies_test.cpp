// The consumer's half of the reply ring (consumer/worker_replies.hpp): replies written
// with the ring codec and taken as the consumer takes them, without a ring or a broker.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "consumer/worker_replies.hpp"
#include "shm/headers_codec.hpp"
#include "shm/records.hpp"

namespace sluice::consumer {
namespace {

// A record-sized, aligned buffer standing in for a place in the reply ring.
struct Slot {
  explicit Slot(std::uint32_t size) : bytes(size / 8 + 1), size(size) {}
  shm::RecordHeader* h() { return reinterpret_cast<shm::RecordHeader*>(bytes.data()); }
  shm::Reply read() { return shm::read_reply(h(), size); }
  std::vector<std::uint64_t> bytes;
  std::uint32_t size;
};

shm::Reply reason(Slot& s, std::uint64_t seq, std::uint32_t attempt, const std::string& text) {
  shm::RecordHeader of{};
  of.seq = seq;
  of.attempts.store(attempt);
  shm::write_reason(s.h(), of, text);
  return s.read();
}

Slot outbound_slot(std::uint64_t leader, std::uint32_t attempt, const std::string& value) {
  Slot s(shm::outbound_size(3, 0, value.size(), 0));
  shm::write_outbound(s.h(), leader, attempt, "out", -1, nullptr, 0, value.data(), value.size(), nullptr, 0);
  return s;
}

auto in_flight(std::vector<std::uint64_t> seqs) {
  return [seqs](std::uint64_t seq) { return std::find(seqs.begin(), seqs.end(), seq) != seqs.end(); };
}

TEST(WorkerReplies, AReasonReachesTheOutcomeOfItsRecordOnceAndBounded) {
  WorkerReplies replies;
  const std::string long_reason(WorkerReplies::kMaxReasonBytes + 100, 'x');
  Slot s(shm::reason_size(long_reason.size()));
  ASSERT_EQ(replies.take(reason(s, 5, 1, long_reason), in_flight({5})), "");
  const auto out = replies.take_outcome(5, 1, false);
  EXPECT_EQ(out.reason.size(), WorkerReplies::kMaxReasonBytes);
  EXPECT_TRUE(replies.empty());
  EXPECT_EQ(replies.take_outcome(5, 1, false).reason, "");
}

TEST(WorkerReplies, AReplyAboutARecordNotInFlightIsRefused) {
  WorkerReplies replies;
  Slot s(shm::reason_size(4));
  EXPECT_EQ(replies.take(reason(s, 9, 1, "oops"), in_flight({5, 6})), "a reply about seq 9, not in flight there");
  EXPECT_TRUE(replies.empty());
}

TEST(WorkerReplies, AReplyOfNoKnownKindIsRefusedWithItsReason) {
  WorkerReplies replies;
  Slot s(shm::reason_size(4));
  reason(s, 5, 1, "oops");
  s.h()->kind = static_cast<shm::RecordKind>(99);
  EXPECT_EQ(replies.take(s.read(), in_flight({5})), "a record of kind 99, which no worker writes");
}

TEST(WorkerReplies, OutboundRecordsAreProducedOnlyForTheLastAttemptAndOnlyWhenItSucceeded) {
  WorkerReplies replies;
  Slot first = outbound_slot(7, 1, "from attempt 1");
  ASSERT_EQ(replies.take(first.read(), in_flight({7})), "");
  Slot second = outbound_slot(7, 2, "from attempt 2");
  ASSERT_EQ(replies.take(second.read(), in_flight({7})), "");
  ASSERT_EQ(replies.take(second.read(), in_flight({7})), "");

  // The crashed first attempt's record is gone; the second attempt asked for two.
  auto ok = replies.take_outcome(7, 2, true);
  ASSERT_EQ(ok.produce.size(), 2U);
  EXPECT_EQ(ok.produce[0].topic, "out");
  EXPECT_EQ(ok.produce[0].value, "from attempt 2");
  EXPECT_FALSE(ok.produce[0].key.has_value());
  EXPECT_TRUE(replies.empty());

  ASSERT_EQ(replies.take(first.read(), in_flight({7})), "");
  EXPECT_TRUE(replies.take_outcome(7, 1, false).produce.empty()) << "a failed invocation produces nothing";
  ASSERT_EQ(replies.take(first.read(), in_flight({7})), "");
  EXPECT_TRUE(replies.take_outcome(7, 3, true).produce.empty()) << "an older attempt's records are not the last one's";
}

TEST(WorkerReplies, ARecordAwaitsItsLeaderOnlyForTheAttemptThatSaidSo) {
  WorkerReplies replies;
  Slot s(shm::kAwaitSize);
  shm::write_await(s.h(), 3, 2, 4);
  ASSERT_EQ(replies.take(s.read(), in_flight({3, 4})), "");
  EXPECT_EQ(replies.take_outcome(3, 2, true).leader, std::optional<std::uint64_t>(4));
  ASSERT_EQ(replies.take(s.read(), in_flight({3, 4})), "");
  EXPECT_FALSE(replies.take_outcome(3, 3, true).leader.has_value());
}

TEST(WorkerReplies, OutboundRecordsWithMalformedHeadersAreRefused) {
  WorkerReplies replies;
  const std::byte junk[3] = {std::byte{0xFF}, std::byte{0xFF}, std::byte{0xFF}};
  Slot s(shm::outbound_size(3, 0, 1, sizeof junk));
  shm::write_outbound(s.h(), 7, 1, "out", -1, nullptr, 0, "v", 1, junk, sizeof junk);
  EXPECT_EQ(replies.take(s.read(), in_flight({7})), "an outbound record whose headers are malformed");
}

TEST(WorkerReplies, ForgetDropsEverythingSaidAboutARecord) {
  WorkerReplies replies;
  Slot r(shm::reason_size(4));
  ASSERT_EQ(replies.take(reason(r, 7, 1, "oops"), in_flight({7})), "");
  Slot o = outbound_slot(7, 1, "v");
  ASSERT_EQ(replies.take(o.read(), in_flight({7})), "");
  replies.forget(7);
  EXPECT_TRUE(replies.empty());
}

}  // namespace
}  // namespace sluice::consumer
