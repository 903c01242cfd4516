// How far a worker looks into its ring past its first unsettled record: the consumer
// and the worker agree on it, because it decides what the consumer may put in a ring.
#pragma once

#include <cstddef>

namespace sluice::shm {

// A worker whose handler runs several requests at once but only one per partition
// (ordering "partition") takes records past a busy partition's run to find other
// partitions' records to start. It holds at most this many records past its first
// unsettled one (more only when eight of its rounds are more): the vectors that track
// them cost ~200 bytes a record. The consumer, in turn, gives each partition no more
// than its share of this (consumer/partition_share.hpp), so that what a worker looks at
// holds every partition's next record, however long each partition's backlog is.
inline constexpr std::size_t kStreamAhead = 8192;

}  // namespace sluice::shm
