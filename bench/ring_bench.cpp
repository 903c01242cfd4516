// Cross-process ring throughput: this process writes 100-byte records, a forked process
// reads and releases them. Printed next to a raw cache-line ping-pong between the same
// two processes, the floor any cross-process hand-off pays.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "shm/ring.hpp"
#include "shm/segment.hpp"

namespace {
using namespace sluice::shm;

Segment make(const char* tag) {
  SegmentSpec spec;
  spec.name = std::string("sluice.bench") + std::to_string(getpid()) + "." + tag;
  spec.workers = 1;
  spec.ring_bytes = 1 << 20;
  spec.reply_ring_bytes = 4096;
  spec.epoch_slots = 16;
  return Segment::create(spec);
}

[[noreturn]] void drain_forever(const Segment& seg) {
  RingReader r(seg.ring(0), seg.base());
  for (;;) {
    RecordHeader* h = r.peek();
    if (h == nullptr) {
      r.release();
      r.wait_for_data(100'000'000);
      continue;
    }
    h->status.store(Status::kOk, std::memory_order_relaxed);
    r.advance();
  }
}

void BM_RingCrossProcess(benchmark::State& state) {
  const auto value_len = static_cast<std::uint32_t>(state.range(0));
  Segment seg = make("ring");
  const pid_t pid = fork();
  if (pid == 0) drain_forever(seg);
  RingWriter w(seg.ring(0), seg.base());
  const std::uint32_t size = record_size(0, value_len, 0);
  std::uint64_t seq = 0;
  char payload[4096];
  std::memset(payload, 'x', sizeof payload);
  for (auto _ : state) {
    RecordHeader* h;
    while ((h = w.try_reserve(size)) == nullptr) {
      w.publish();
      w.reclaim();
      if ((h = w.try_reserve(size)) != nullptr) break;
      w.wait_for_space(size, 100'000'000);
      w.reclaim();
    }
    h->seq = ++seq;
    h->key_len = 0;
    h->headers_len = 0;
    h->value_len = value_len;
    std::memcpy(record_value(h), payload, value_len);
    w.commit();
    if ((seq & 63) == 0) w.publish();  // the consumer publishes once per poll batch
  }
  w.publish();
  while (seg.ring(0).read_pos.load() != w.write_cursor()) {
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(seq));
  state.SetBytesProcessed(static_cast<std::int64_t>(seq) * size);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  Segment::remove(seg.name());
}
BENCHMARK(BM_RingCrossProcess)->Arg(100)->Arg(1024)->UseRealTime();

// Round trip of one cache line between two processes: the probe the ring is judged by.
void BM_CacheLinePingPong(benchmark::State& state) {
  auto* line = static_cast<std::atomic<std::uint64_t>*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  line->store(0);
  const pid_t pid = fork();
  if (pid == 0) {
    for (std::uint64_t v = 1;; v += 2) {
      while (line->load(std::memory_order_acquire) != v) {
      }
      line->store(v + 1, std::memory_order_release);
    }
  }
  std::uint64_t v = 0;
  for (auto _ : state) {
    line->store(v + 1, std::memory_order_release);
    while (line->load(std::memory_order_acquire) != v + 2) {
    }
    v += 2;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(v / 2));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  munmap(line, 4096);
}
BENCHMARK(BM_CacheLinePingPong)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
