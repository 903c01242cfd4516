// How many records of one partition the consumer lets wait in a worker's ring.
#pragma once

#include <algorithm>
#include <cstddef>

#include "config/config.hpp"
#include "shm/stream_ahead.hpp"

namespace sluice::consumer {

// Below this a partition would wait for a consumer pass between every few records.
inline constexpr std::size_t kMinPartitionShare = 16;

// Records of one partition dispatched and not completed, at most, before its next
// records wait in the consumer (still fetched, not paused unless the backlogs outgrow a
// ring). max_in_flight always; and where a worker runs several requests at once but one
// per partition (an http handler, max_concurrency > 1, ordering "partition"), an equal
// share of what the worker looks ahead at (shm::kStreamAhead). Without it a backlog
// fills the ring with one partition's fetch after another, thousands of records each,
// and the worker, looking 8,192 records ahead, sees about three partitions' runs: with
// 8 partitions of 2,500 records and a 10 ms endpoint it ran at 384-441 msg/s, not the
// 800 one request per partition allows (docs/benchmarks.md). The share is
// of all the consumer's partitions, though each worker gets only some: smaller than it
// needs to be with several workers, which costs nothing while it is far above what a
// worker can have in flight.
inline std::size_t partition_share(const config::Lambda& lambda, std::size_t partitions) {
  const std::size_t limit = lambda.max_in_flight;
  if (lambda.handler.type != config::HandlerType::kHttp || lambda.handler.max_concurrency <= 1 ||
      lambda.ordering != config::Ordering::kPartition) {
    return limit;
  }
  return std::min(limit, std::max(kMinPartitionShare, shm::kStreamAhead / std::max<std::size_t>(partitions, 1)));
}

}  // namespace sluice::consumer
