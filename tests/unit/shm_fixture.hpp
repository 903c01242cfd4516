// A real segment (memfds), gone when the test drops it.
#pragma once

#include <unistd.h>

#include <string>

#include "shm/segment.hpp"

namespace sluice::test {

inline shm::Segment make_segment(const std::string& tag, std::uint32_t workers, std::uint64_t ring_bytes,
                                 std::string config_json = "{}") {
  shm::SegmentSpec spec;
  spec.name = "sluice.test" + std::to_string(getpid()) + "." + tag;
  spec.workers = workers;
  spec.ring_bytes = ring_bytes;
  spec.reply_ring_bytes = 4096;
  spec.epoch_slots = 64;
  spec.config_json = std::move(config_json);
  return shm::Segment::create(spec);
}

}  // namespace sluice::test
