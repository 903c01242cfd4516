#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "shm/ring.hpp"
#include "shm/headers_codec.hpp"
#include "shm_fixture.hpp"

namespace sluice::shm {
namespace {

RecordHeader* put(RingWriter& w, std::uint64_t seq, std::uint32_t value_len) {
  RecordHeader* h = w.try_reserve(record_size(0, value_len, 0));
  if (h == nullptr) return nullptr;
  h->seq = seq;
  h->key_len = 0;
  h->value_len = value_len;
  h->headers_len = 0;
  std::memset(record_value(h), static_cast<int>(seq & 0xff), value_len);
  w.commit();
  return h;
}

class RingTest : public ::testing::Test {
 protected:
  Segment seg = test::make_segment("ring", 1, 4096);
  RingWriter w{seg.forward(0)};
  RingReader r{seg.forward(0)};
};

TEST_F(RingTest, EmptyRingHasNothingToRead) {
  EXPECT_EQ(r.peek(), nullptr);
  EXPECT_FALSE(r.wait_for_data(1'000'000));
}

TEST_F(RingTest, UnpublishedRecordsAreInvisible) {
  ASSERT_NE(put(w, 1, 10), nullptr);
  EXPECT_EQ(r.peek(), nullptr);
  w.publish();
  RecordHeader* h = r.peek();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->seq, 1U);
}

TEST_F(RingTest, FullRingRefusesUntilReleasedAndReclaimed) {
  const std::uint32_t rec = record_size(0, 120, 0);  // 200 bytes
  std::uint64_t n = 0;
  while (put(w, n, 120) != nullptr) ++n;
  EXPECT_EQ(n, 4096 / rec);
  w.publish();
  // Reading without releasing frees nothing.
  ASSERT_NE(r.peek(), nullptr);
  r.advance();
  w.reclaim();
  EXPECT_EQ(put(w, 99, 120), nullptr);
  // Released by the reader but not yet reaped by the owner: still no room.
  r.release();
  EXPECT_EQ(put(w, 99, 120), nullptr);
  EXPECT_EQ(w.reap([](RecordHeader&) {}), 1U);
  EXPECT_NE(put(w, 99, 120), nullptr);
}

TEST_F(RingTest, WrapMarkerKeepsOrderAcrossTheEnd) {
  std::uint64_t next_put = 0;
  std::uint64_t next_get = 0;
  // Odd sizes so records straddle the end at varying points.
  for (int round = 0; round < 2000; ++round) {
    const std::uint32_t len = 1 + (round * 37) % 700;
    while (put(w, next_put, len) == nullptr) {
      w.publish();
      RecordHeader* h = r.peek();
      ASSERT_NE(h, nullptr);
      ASSERT_EQ(h->seq, next_get);
      const auto* v = reinterpret_cast<unsigned char*>(record_value(h));
      for (std::uint32_t i = 0; i < h->value_len; ++i) ASSERT_EQ(v[i], next_get & 0xff);
      ++next_get;
      r.advance();
      r.release();
      w.reclaim();
    }
    ++next_put;
  }
  w.publish();
  while (RecordHeader* h = r.peek()) {
    ASSERT_EQ(h->seq, next_get++);
    r.advance();
  }
  EXPECT_EQ(next_get, next_put);
  EXPECT_GT(w.write_cursor(), 10 * w.capacity()) << "the test must wrap many times";
}

TEST_F(RingTest, RecordLargerThanHalfTheRingIsRefused) {
  EXPECT_EQ(max_record_in_ring(4096), 2048U);
  EXPECT_EQ(w.try_reserve(2056), nullptr);
  EXPECT_EQ(w.write_cursor(), 0U);
  EXPECT_NE(w.try_reserve(2048), nullptr);
}

TEST_F(RingTest, ReaderResumesAtReleasedPosition) {
  for (std::uint64_t i = 0; i < 5; ++i) ASSERT_NE(put(w, i, 8), nullptr);
  w.publish();
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(r.peek(), nullptr);
    r.advance();
  }
  r.release();
  // Two more taken but not released: a replacement reader sees them again.
  r.peek();
  r.advance();
  RingReader again(seg.forward(0));
  RecordHeader* h = again.peek();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->seq, 3U);
}

TEST_F(RingTest, ReleaseToGivesBackOnlyTheFinishedPrefix) {
  for (std::uint64_t i = 0; i < 5; ++i) ASSERT_NE(put(w, i, 8), nullptr);
  w.publish();
  // A worker takes the first two, finishes them, then takes two more it has not finished.
  for (int i = 0; i < 2; ++i) {
    ASSERT_NE(r.peek(), nullptr);
    r.advance();
  }
  const std::uint64_t done = r.cursor();
  for (int i = 0; i < 2; ++i) {
    ASSERT_NE(r.peek(), nullptr);
    r.advance();
  }
  r.release_to(done);
  EXPECT_EQ(w.read_pos(), done);
  std::vector<std::uint64_t> reaped;
  w.reap([&](RecordHeader& h) { reaped.push_back(h.seq); });
  EXPECT_EQ(reaped, (std::vector<std::uint64_t>{0, 1}));
  // A replacement reader starts at the first unfinished record.
  RingReader again(seg.forward(0));
  RecordHeader* h = again.peek();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->seq, 2U);
  // The rest go back later; releasing the same position again changes nothing.
  r.release_to(done);
  r.release();
  EXPECT_EQ(w.read_pos(), r.cursor());
}

TEST(HeadersCodec, RoundTripsNullAndBinaryValues) {
  std::vector<std::byte> buf(256);
  const unsigned char bin[] = {0, 255, 10, 0};
  std::byte* p = buf.data();
  p = encode_header(p, "a", "xyz", 3);
  p = encode_header(p, "nul", nullptr, 0);
  p = encode_header(p, "bin", bin, sizeof bin);
  p = encode_header(p, "empty", "", 0);
  std::vector<std::string> seen;
  ASSERT_TRUE(for_each_header(buf.data(), static_cast<std::size_t>(p - buf.data()), [&](const HeaderView& h) {
    seen.push_back(std::string(h.name) + "=" +
                   (h.value == nullptr ? "NULL" : std::string(reinterpret_cast<const char*>(h.value), h.value_len)));
  }));
  ASSERT_EQ(seen.size(), 4U);
  EXPECT_EQ(seen[0], "a=xyz");
  EXPECT_EQ(seen[1], "nul=NULL");
  EXPECT_EQ(seen[2], "bin=" + std::string(reinterpret_cast<const char*>(bin), sizeof bin));
  EXPECT_EQ(seen[3], "empty=");
  EXPECT_FALSE(for_each_header(buf.data(), 5, [](const HeaderView&) {}));
}

// What a child does with the descriptors it inherited: the same layout and config,
// from the sealed descriptor; anything unsealed or of the wrong size is refused.
TEST(Segment, AttachTakesTheLayoutFromTheSealedDescriptorOnly) {
  auto seg = test::make_segment("attach", 3, 8192, R"({"x":1})");
  auto other = Segment::attach(dup(seg.fd()), dup(seg.sealed_fd()), "child");
  EXPECT_EQ(other.workers(), 3U);
  EXPECT_EQ(other.config_json(), R"({"x":1})");
  EXPECT_EQ(other.forward(2).capacity, 8192U);
  EXPECT_EQ(other.reply(2).data - other.forward(2).data, 8192);
  other.stats().consumed.store(7);
  EXPECT_EQ(seg.stats().consumed.load(), 7U) << "the same memory";

  // Nobody can change the sealed layout or resize the segment after creation.
  const char junk[8] = {};
  EXPECT_EQ(pwrite(seg.sealed_fd(), junk, sizeof junk, 0), -1);
  EXPECT_NE(ftruncate(seg.fd(), 4096), 0);
  EXPECT_EQ(fcntl(seg.fd(), F_ADD_SEALS, F_SEAL_WRITE), -1) << "the segment's seals are final";

  const int unsealed = memfd_create("not-sealed", MFD_CLOEXEC);
  ASSERT_GE(unsealed, 0);
  std::string copy(sizeof(SealedLayout) + 7, '\0');
  ASSERT_EQ(pread(seg.sealed_fd(), copy.data(), copy.size(), 0), static_cast<ssize_t>(copy.size()));
  ASSERT_EQ(write(unsealed, copy.data(), copy.size()), static_cast<ssize_t>(copy.size()));
  EXPECT_THROW(Segment::attach(dup(seg.fd()), unsealed, "unsealed"), std::runtime_error);

  auto small = test::make_segment("small", 1, 4096);
  try {
    Segment::attach(dup(small.fd()), dup(seg.sealed_fd()), "mismatch");
    FAIL() << "attach accepted memory of the wrong size";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("mismatch"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sluice::shm
