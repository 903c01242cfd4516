// Attempts that outlive a consumer. When a lambda's consumer ends, its workers are
// killed and the rings reset, and Kafka delivers the uncommitted records again from the
// committed offsets; what the workers had already tried of them is in the rings' record
// headers only. The supervisor collects it before the reset and hands it to the next
// consumer (a sealed memfd, --carried-fd), which starts those records at their attempt
// count: max_attempts holds across consumer restarts, and handlers see the attempt
// number plugin.h and the exec protocol promise.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shm/segment.hpp"

namespace sluice::shm {

struct CarriedAttempt {
  std::uint32_t topic_index = 0;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::uint32_t attempts = 0;
  bool operator==(const CarriedAttempt&) const = default;
};

// Records of the forward ring, from its read position on, that a worker has tried
// (attempts > 0) and not finished. Only while no process uses the ring. The ring is
// worker-writable: the walk is the validated reader's, and stops where it stops.
std::vector<CarriedAttempt> pending_attempts(const RingView& ring, std::size_t limit);

std::string encode_carried(const std::vector<CarriedAttempt>& list);
// Lines that do not parse are left out (the text comes from the supervisor).
std::vector<CarriedAttempt> decode_carried(std::string_view text);

}  // namespace sluice::shm
