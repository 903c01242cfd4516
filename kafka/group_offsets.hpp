// Reads and resets a consumer group's committed offsets from a separate client that
// never joins the group (for `sluice offsets show|reset`, and tests).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::kafka {

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

// Where `sluice offsets reset` moves a group: one of these, per partition clamped to the
// partition's [low, high] watermarks.
struct ResetTarget {
  enum class Kind { kEarliest, kLatest, kOffset, kDatetime, kShift } kind = Kind::kEarliest;
  std::int64_t value = 0;  // kOffset: the offset; kDatetime: ms since the epoch; kShift: +/- N
};

struct PartitionReset {
  PartitionOffsets now;
  std::int64_t target = -1;
};

// The new offset of every partition of `topics` (only `only_topic`, and `only_partition`
// if >= 0, when given). Throws std::runtime_error when the cluster cannot answer.
std::vector<PartitionReset> plan_reset(const std::map<std::string, std::string>& client_properties,
                                       const std::string& group_id, const std::vector<std::string>& topics,
                                       const ResetTarget& target, const std::string& only_topic = "",
                                       std::int32_t only_partition = -1, int timeout_ms = 10000);

// Members of the group now, as the coordinator reports them; -1 if it cannot say.
int group_members(const std::map<std::string, std::string>& client_properties, const std::string& group_id,
                  int timeout_ms = 10000);

// Commits the planned offsets for the group, as its only member for a moment (check
// group_members() first). Throws with the reason when the broker refuses any of them or
// the partitions cannot be taken within timeout_ms.
void commit_reset(const std::map<std::string, std::string>& client_properties, const std::string& group_id,
                  const std::vector<PartitionReset>& plan, int timeout_ms = 30000);

// "2026-11-23T10:00:00Z", "...T10:00:00.250+02:00", "2026-11-23 10:00:00" (UTC) or
// milliseconds since the epoch; nullopt if malformed.
std::optional<std::int64_t> parse_datetime_ms(const std::string& text);

}  // namespace sluice::kafka
