// The consumer's membership of its group, from librdkafka's statistics report. Without
// it a consumer that never completed its join (or stayed in a rebalance) looked like
// a healthy one with nothing to do: status "running", health "ok", no line in the log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shm/layout.hpp"

namespace sluice::consumer {

struct GroupState {
  std::string state;       // librdkafka's cgrp "state": "up" once it has its coordinator
  std::string join_state;  // "steady" between rebalances
  bool settled() const { return state == "up" && join_state == "steady"; }
};

// nullopt when the report has no group (not a report, or not a group consumer).
std::optional<GroupState> read_group_state(std::string_view statistics_json);

// Keeps the segment's group fields and tells the log, once, when the consumer has been
// unsettled for shm::kUnsettledTooLongNs, and again when it settles after that.
class GroupWatch {
 public:
  GroupWatch(std::string lambda, std::string group) : lambda_(std::move(lambda)), group_(std::move(group)) {}
  void record(shm::Stats& stats, const GroupState& g, std::uint64_t now_ns);

 private:
  std::string lambda_;
  std::string group_;
  // Kept here, not read back from the segment, which a worker can write.
  std::uint64_t unsettled_since_ns_ = 0;
  bool warned_ = false;
};

}  // namespace sluice::consumer
