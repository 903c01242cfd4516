// The clock of every *_ns time in the segment (enqueue, invocation start, heartbeats,
// outages): CLOCK_MONOTONIC, read the same way by the consumer, the workers and the
// supervisor, since each compares times another process wrote.
#pragma once

#include <time.h>

#include <cstdint>

namespace sluice::shm {

inline std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace sluice::shm
