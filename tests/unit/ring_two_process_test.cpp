// The ring between two real processes: a forked reader, the test process as writer.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "shm/ring.hpp"
#include "shm_fixture.hpp"

namespace sluice::shm {
namespace {

// Record i: value of (i % 97) bytes, byte j = (i + j) & 0xff; offset field = 3 * i.
std::uint32_t len_of(std::uint64_t i) { return static_cast<std::uint32_t>(i % 97); }

void write_record(RingWriter& w, std::uint64_t i) {
  const std::uint32_t size = record_size(0, len_of(i), 0);
  RecordHeader* h;
  while ((h = w.try_reserve(size)) == nullptr) {
    w.publish();
    w.reclaim();
    if ((h = w.try_reserve(size)) != nullptr) break;
    w.wait_for_space(size, 100'000'000);
    w.reclaim();
  }
  h->seq = i;
  h->offset = static_cast<std::int64_t>(3 * i);
  h->key_len = 0;
  h->headers_len = 0;
  h->value_len = len_of(i);
  auto* v = reinterpret_cast<unsigned char*>(record_value(h));
  for (std::uint32_t j = 0; j < h->value_len; ++j) v[j] = static_cast<unsigned char>((i + j) & 0xff);
  w.commit();
  if ((i & 31) == 0) w.publish();
}

bool record_ok(RecordHeader* h, std::uint64_t expect) {
  if (h->seq != expect || h->offset != static_cast<std::int64_t>(3 * expect) || h->value_len != len_of(expect)) {
    return false;
  }
  const auto* v = reinterpret_cast<const unsigned char*>(record_value(h));
  for (std::uint32_t j = 0; j < h->value_len; ++j) {
    if (v[j] != static_cast<unsigned char>((expect + j) & 0xff)) return false;
  }
  return true;
}

struct Shared {
  std::atomic<std::uint64_t> handled_last{0};  // last seq a reader finished
  std::atomic<std::uint64_t> first_seen[2]{};
  std::atomic<std::uint64_t> mismatch_at{~0ULL};
};

// Reads records until seq n-1; exit 0 if every record was intact and in order.
[[noreturn]] void reader(const Segment& seg, std::uint64_t n, Shared* sh, int role) {
  RingReader r(seg.forward(0));
  bool first = true;
  std::uint64_t expect = 0;
  for (;;) {
    RecordHeader* h = r.peek();
    if (h == nullptr) {
      r.release();
      r.wait_for_data(1'000'000'000);
      continue;
    }
    if (first) {
      expect = h->seq;
      sh->first_seen[role].store(expect);
      first = false;
    }
    if (!record_ok(h, expect)) {
      sh->mismatch_at.store(expect);
      _exit(1);
    }
    sh->handled_last.store(expect);
    r.advance();
    if ((expect & 15) == 15) r.release();
    if (++expect == n) {
      r.release();
      _exit(0);
    }
  }
}

// Waits for pid with a deadline; kills it and returns -1 on timeout.
int wait_exit(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status;
}

Shared* shared_block() {
  void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return new (p) Shared();
}

TEST(RingTwoProcess, StreamsTenMillionRecordsIntactAndInOrder) {
  constexpr std::uint64_t kRecords = 10'000'000;
  auto seg = test::make_segment("stream", 1, 1 << 16);
  Shared* sh = shared_block();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) reader(seg, kRecords, sh, 0);
  RingWriter w(seg.forward(0));
  for (std::uint64_t i = 0; i < kRecords; ++i) write_record(w, i);
  w.publish();
  const int status = wait_exit(pid, std::chrono::seconds(300));
  ASSERT_NE(status, -1) << "reader did not finish in time; last handled " << sh->handled_last.load();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "reader saw a damaged or out-of-order record at seq " << sh->mismatch_at.load();
  EXPECT_EQ(sh->handled_last.load(), kRecords - 1);
  EXPECT_GT(w.write_cursor(), 100 * w.capacity()) << "the stream must wrap the ring many times";
  munmap(sh, sizeof(Shared));
}

TEST(RingTwoProcess, NewReaderResumesAtReadPositionAfterSigkill) {
  constexpr std::uint64_t kRecords = 2'000'000;
  auto seg = test::make_segment("kill", 1, 1 << 16);
  Shared* sh = shared_block();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) reader(seg, kRecords, sh, 0);
  RingWriter w(seg.forward(0));
  std::uint64_t killed_at_read_pos = 0;
  std::uint64_t handled_by_first = 0;
  for (std::uint64_t i = 0; i < kRecords; ++i) {
    if (i == kRecords / 3) {
      kill(pid, SIGKILL);
      int st = 0;
      waitpid(pid, &st, 0);
      ASSERT_TRUE(WIFSIGNALED(st)) << "first reader ended on its own, not by the kill";
      handled_by_first = sh->handled_last.load();
      killed_at_read_pos = seg.ring(0).read_pos.load();
      ASSERT_GT(killed_at_read_pos, 0U) << "first reader released nothing before the kill";
      pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) reader(seg, kRecords, sh, 1);
    }
    write_record(w, i);
  }
  w.publish();
  const int status = wait_exit(pid, std::chrono::seconds(120));
  ASSERT_NE(status, -1) << "second reader did not finish";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "second reader saw a damaged or out-of-order record at seq " << sh->mismatch_at.load();
  const std::uint64_t resumed = sh->first_seen[1].load();
  // Nothing lost: the new reader starts at or before the first record the old one had
  // not finished; redelivery (at-least-once) is bounded by the release batch.
  EXPECT_LE(resumed, handled_by_first + 1);
  EXPECT_GE(resumed + 16, handled_by_first + 1);
  EXPECT_EQ(sh->handled_last.load(), kRecords - 1);
  munmap(sh, sizeof(Shared));
}

}  // namespace
}  // namespace sluice::shm
