// `sluice offsets show|reset`: a lambda's consumer group offsets, read and moved from a
// client outside the group.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"

namespace sluice::app {

int cmd_offsets_show(const config::Config& c, const std::string& lambda);

struct ResetOptions {
  std::string lambda;
  bool to_earliest = false;
  bool to_latest = false;
  std::optional<std::int64_t> to_offset;
  std::string to_datetime;
  std::optional<std::int64_t> shift_by;
  std::string topic;  // "T" or "T:P"; empty = every topic of the lambda
  bool execute = false;
};

// Prints the plan; commits it only with `execute`, and never while the lambda runs.
int cmd_offsets_reset(const config::Config& c, const ResetOptions& o);

}  // namespace sluice::app
