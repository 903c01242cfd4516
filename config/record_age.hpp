// max_record_age_s, judged one way by the consumer (a record too old never reaches a
// handler) and by the worker (a record whose handler stays unavailable past it fails).
#pragma once

#include <chrono>
#include <cstdint>

#include "config/config.hpp"

namespace sluice::config {

// The wall clock in Kafka's timestamp unit (milliseconds since the epoch).
inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A record without a timestamp (-1) has no age, and max_record_age_s = 0 is no limit.
inline bool older_than_max_age(const Lambda& l, std::int64_t timestamp_ms, std::int64_t now_ms) {
  return l.max_record_age_s != 0 && timestamp_ms >= 0 && now_ms - timestamp_ms > std::int64_t{l.max_record_age_s} * 1000;
}

}  // namespace sluice::config
