// Reads a consumer group's committed offsets and the partitions' watermarks from a
// separate client that never joins the group (for `sluice offsets show`, and tests).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sluice::consumer {

struct PartitionOffsets {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t committed = -1;  // -1: nothing committed
  std::int64_t low = -1;
  std::int64_t high = -1;
  std::int64_t lag() const { return high < 0 ? -1 : high - (committed < 0 ? low : committed); }
};

// Throws std::runtime_error when the cluster cannot answer within timeout_ms.
std::vector<PartitionOffsets> group_offsets(const std::map<std::string, std::string>& client_properties,
                                            const std::string& group_id, const std::vector<std::string>& topics,
                                            int timeout_ms = 10000);

}  // namespace sluice::consumer
