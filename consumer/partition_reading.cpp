#include "consumer/partition_reading.hpp"

#include <algorithm>

namespace sluice::consumer {

PartitionReading read_partition(const PartitionFacts& f) {
  PartitionReading r;
  r.low = f.cached_low;
  r.high = f.cached_high;
  r.sample.wanted = f.wanted;
  r.sample.expected = f.expected;
  if (f.fetch != nullptr) {
    r.sample.fetching = f.fetch->fetching();
    r.sample.fetch_offset = f.fetch->next_offset;
  }
  r.ask_leader = f.asks_leader();
  if (r.ask_leader && f.leader) {
    // Watermarks only grow (a log's start moves up with retention): the newer of the two.
    r.low = std::max(r.low, f.leader->watermarks.low);
    r.high = std::max(r.high, f.leader->watermarks.high);
    r.sample.leader_end = f.leader->watermarks.high;
    r.sample.asked_at = f.leader->asked_at;
  }
  return r;
}

}  // namespace sluice::consumer
