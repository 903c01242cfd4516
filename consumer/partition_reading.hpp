// What the consumer reads about one partition each second, for the lag the supervisor
// reports and for FetchStall: its watermarks and how its fetch looks. librdkafka's cached
// watermarks are as old as the partition's last fetch, so a partition that is not being
// fetched (paused, stopped, stopping) or is suspected of a stall takes its leader's newer
// answer: its lag then grows with what is produced instead of freezing.
#pragma once

#include <cstdint>
#include <optional>

#include "consumer/fetch_stall.hpp"
#include "consumer/fetch_states.hpp"
#include "consumer/leader_watermarks.hpp"

namespace sluice::consumer {

struct PartitionReading {
  std::int64_t low = -1;   // -1: not known yet (the gauges keep what they show)
  std::int64_t high = -1;
  bool ask_leader = false;  // its leader is to be asked for watermarks from now on
  FetchSample sample;
};

struct PartitionFacts {
  bool wanted = false;   // neither paused nor stopped, and the consumer is not stopping
  bool suspect = false;  // FetchStall::suspect()
  std::int64_t expected = -1;
  std::int64_t cached_low = -1;  // librdkafka's cached watermarks, -1 if it has none
  std::int64_t cached_high = -1;
  const FetchState* fetch = nullptr;  // from librdkafka's statistics, if read
  std::optional<LeaderWatermarks::Answer> leader;  // the leader's newest answer, if any

  // Whether its leader's answer counts (and the leader is to be asked): librdkafka's
  // cache is as old as the partition's last fetch.
  bool asks_leader() const { return !wanted || suspect; }
};

PartitionReading read_partition(const PartitionFacts& f);

}  // namespace sluice::consumer
