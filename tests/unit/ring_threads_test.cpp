// The ring protocol between two threads of one process: the same code paths as between
// processes, but visible to ThreadSanitizer, which checks that every byte a reader sees
// was published to it by a release/acquire pair (scripts/test.sh runs this under TSan).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "shm/futex.hpp"
#include "shm/ring.hpp"
#include "shm_fixture.hpp"

namespace sluice::shm {
namespace {

TEST(RingThreads, WriterAndReaderThreadsAgreeOnEveryByte) {
  constexpr std::uint64_t kRecords = 300'000;
  auto seg = test::make_segment("threads", 1, 1 << 14);
  std::uint64_t bad_at = ~0ULL;
  std::thread reader([&] {
    RingReader r(seg.forward(0));
    for (std::uint64_t expect = 0; expect < kRecords;) {
      RecordHeader* h = r.peek();
      if (h == nullptr) {
        r.release();
        r.wait_for_data(100'000'000);
        continue;
      }
      const auto* v = reinterpret_cast<const unsigned char*>(record_value(h));
      bool ok = h->seq == expect && h->value_len == expect % 50;
      for (std::uint32_t j = 0; ok && j < h->value_len; ++j) ok = v[j] == static_cast<unsigned char>(expect + j);
      if (!ok) {
        bad_at = expect;
        return;
      }
      h->status.store(Status::kOk, std::memory_order_relaxed);
      r.advance();
      if (++expect % 7 == 0) r.release();
    }
    r.release();
  });
  RingWriter w(seg.forward(0));
  std::uint64_t reaped_ok = 0;
  for (std::uint64_t i = 0; i < kRecords; ++i) {
    const auto len = static_cast<std::uint32_t>(i % 50);
    const std::uint32_t size = record_size(0, len, 0);
    auto reap = [&] {
      // Reaping reads what the reader wrote into the records (their status).
      w.reap([&](RecordHeader& done) { reaped_ok += done.status.load(std::memory_order_relaxed) == Status::kOk; });
    };
    RecordHeader* h;
    while ((h = w.try_reserve(size)) == nullptr) {
      w.publish();
      reap();
      if ((h = w.try_reserve(size)) != nullptr) break;
      w.wait_for_space(size, 100'000'000);
    }
    h->seq = i;
    h->key_len = 0;
    h->headers_len = 0;
    h->value_len = len;
    auto* v = reinterpret_cast<unsigned char*>(record_value(h));
    for (std::uint32_t j = 0; j < len; ++j) v[j] = static_cast<unsigned char>(i + j);
    w.commit();
    if (i % 5 == 0) w.publish();
  }
  w.publish();
  reader.join();
  EXPECT_EQ(bad_at, ~0ULL) << "reader saw a damaged or out-of-order record";
  w.reap([&](RecordHeader& done) { reaped_ok += done.status.load(std::memory_order_relaxed) == Status::kOk; });
  EXPECT_EQ(reaped_ok, kRecords) << "every record's outcome must reach the writer";
}

// The consumer publishes inside a batch without waking the worker and wakes it once at
// the end. A reader asleep through the quiet publishes must be woken by the waking one,
// even when that one has no new records of its own.
TEST(RingThreads, APublishThatWakesCoversTheQuietOnesBeforeIt) {
  constexpr int kRounds = 50;
  constexpr int kPerRound = 3;
  auto seg = test::make_segment("quiet", 1, 1 << 14);
  std::atomic<int> seen{0};
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    RingReader r(seg.forward(0));
    while (seen.load() < kRounds * kPerRound && !stop.load()) {
      if (r.peek() == nullptr) {
        r.release();
        r.wait_for_data(60'000'000'000ULL);  // a lost wake-up shows as a minute's wait
        continue;
      }
      r.advance();
      seen.fetch_add(1);
    }
    r.release();
  });
  // On a failed assertion: wake the reader by hand so that the test ends instead of
  // waiting out the reader's minute.
  struct Stopper {
    std::atomic<bool>& stop;
    RingControl& ctl;
    std::thread& t;
    ~Stopper() {
      stop.store(true);
      ctl.data_seq.fetch_add(1);
      futex_wake(&ctl.data_seq, 1);
      t.join();
    }
  } stopper{stop, seg.ring(0), reader};
  RingWriter w(seg.forward(0));
  const auto wait_for = [](auto done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    return done();
  };
  for (int round = 0; round < kRounds; ++round) {
    // Only a reader that has gone to sleep tests the wake-up.
    ASSERT_TRUE(wait_for([&] { return seg.ring(0).reader_waiting.load() != 0; })) << "reader never slept, round " << round;
    for (int i = 0; i < kPerRound; ++i) {
      RecordHeader* h = w.try_reserve(record_size(0, 0, 0));
      ASSERT_NE(h, nullptr);
      h->seq = static_cast<std::uint64_t>(round * kPerRound + i);
      h->key_len = h->value_len = h->headers_len = 0;
      w.commit();
      w.publish(false);
    }
    w.publish(true);
    ASSERT_TRUE(wait_for([&] { return seen.load() == (round + 1) * kPerRound; }))
        << "round " << round << ": the waking publish did not wake the reader (saw " << seen.load() << ")";
    w.reclaim();
  }
}

}  // namespace
}  // namespace sluice::shm
