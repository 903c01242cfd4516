// The partitions assigned to this consumer, and what the segment says about them. Each
// has a slot in the segment's epoch table and partition stats, stable for the life of
// the process (a partition assigned again gets its old slot), and an epoch that moves
// whenever what is in flight for it must go stale: revoked, fetched again from an
// earlier offset, reset backwards. Workers skip a record whose epoch is not its slot's,
// and completions under an old epoch are ignored. The epochs are kept here and only
// written to the segment, never read back (a worker can write the table).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "consumer/fetch_stall.hpp"
#include "consumer/offset_tracker.hpp"
#include "kafka/kafka_handles.hpp"
#include "shm/layout.hpp"
#include "shm/segment.hpp"

namespace sluice::consumer {

struct Partition {
  std::string topic;
  std::int32_t partition = 0;
  std::uint16_t topic_index = 0;
  std::uint32_t slot = 0;
  std::uint32_t epoch = 0;
  OffsetTracker tracker;
  std::int64_t committed = -1;       // acknowledged by the broker
  std::int64_t commit_pending = -1;  // sent asynchronously, not yet acknowledged
  std::deque<kafka::MessagePtr> backlog;  // fetched, not yet in a ring (ring full / max_in_flight)
  bool paused = false;
  bool stopped = false;  // on_failure = stop hit this partition
  std::chrono::steady_clock::time_point stopped_at{};
  shm::PartitionStats* stats = nullptr;  // what the supervisor reports for it
  std::chrono::steady_clock::time_point stored_at{};  // when `commit_pending` was stored
  // The next offset the consumer expects librdkafka to give it: the broker's committed
  // offset on assignment, where its fetch was restarted, then past each record given;
  // -1 unknown. Never read from the segment, which a worker can write: a fetch is
  // restarted here when it stalls.
  std::int64_t expected = -1;
  // The broker answered what the group had committed for it (kept here, not read back
  // from the segment's copy, which a worker can write).
  bool committed_known = false;
  FetchStall stall;
};

class Assignment {
 public:
  using Key = std::uint64_t;
  using Map = std::unordered_map<Key, std::unique_ptr<Partition>>;
  static Key key_of(std::uint16_t topic_index, std::int32_t partition) {
    return (Key{topic_index} << 32) | static_cast<std::uint32_t>(partition);
  }

  Assignment(const shm::Segment& seg, std::vector<std::string> topics);

  // Takes a partition of one of our topics, published as assigned in the segment;
  // nullptr if the topic is not ours. Throws std::runtime_error when the segment has no
  // slot left for it.
  Partition* add(const char* topic, std::int32_t partition);
  // Makes what is in flight for p stale, publishes it as no longer assigned, and forgets
  // it (p is gone after this).
  void remove(Partition& p);
  // A new epoch for p: whatever is in flight for it goes stale.
  void new_epoch(Partition& p);
  // The one way an offset completes: only while its partition is still ours at the epoch
  // the record was sent under (else its next owner delivers it again), counted in
  // `counter`. False when it was not ours any more.
  bool complete(std::uint16_t topic_index, std::int32_t partition, std::uint32_t epoch, std::int64_t offset,
                std::atomic<std::uint64_t>& counter) const;
  // Writes every epoch to the segment again (a worker may have written over the table).
  void republish_epochs() const;

  int topic_index(const char* topic) const;  // -1: not ours
  Partition* find(const char* topic, std::int32_t partition) const;
  Partition* find(std::uint16_t topic_index, std::int32_t partition) const;
  Partition* find(Key key) const;

  Map::iterator begin() { return partitions_.begin(); }
  Map::iterator end() { return partitions_.end(); }
  Map::const_iterator begin() const { return partitions_.begin(); }
  Map::const_iterator end() const { return partitions_.end(); }
  std::size_t size() const { return partitions_.size(); }
  void clear();

 private:
  void set_index(std::uint16_t topic_index, std::int32_t partition, Partition* p);

  const shm::Segment& seg_;
  std::vector<std::string> topics_;
  Map partitions_;
  // partitions_ by topic index, then partition number: find() runs twice per record
  // (accept, complete), and an array index is cheaper than a hash lookup.
  std::vector<std::vector<Partition*>> by_partition_;
  std::unordered_map<Key, std::uint32_t> slots_;
  std::vector<std::uint32_t> epochs_;  // by slot
};

}  // namespace sluice::consumer
