// What happens when librdkafka finds no valid position for a partition
// (__AUTO_OFFSET_RESET): the group has no committed offset for it, or the committed
// offset is outside the log (retention, compaction or a recreated topic removed records
// the group never completed). sluice never lets librdkafka jump silently: a partition
// without a committed offset starts at a resolved offset per auto_offset_reset, one that
// lost records reports how many and resumes or stops per policy (docs/operations.md).
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "config/config.hpp"
#include "consumer/assignment.hpp"
#include "kafka/watermarks.hpp"
#include "shm/layout.hpp"

namespace sluice::consumer {

class OffsetResets {
 public:
  using Starts = std::vector<std::pair<Partition*, std::int64_t>>;
  // What resets ask the brokers: a log's range, and the offsets that logical ones
  // (RD_KAFKA_OFFSET_BEGINNING / _END in each element's offset) stand for, written back
  // into the list. Both return the request's error.
  struct Broker {
    std::function<rd_kafka_resp_err_t(std::vector<kafka::Watermarks>&)> watermarks;
    std::function<rd_kafka_resp_err_t(rd_kafka_topic_partition_list_t&)> resolve;
  };
  // What resets do to a partition, through the consumer that owns it.
  struct Actions {
    std::function<void(Partition&)> stop;             // held where it is, reported
    std::function<void(Partition&)> drop_in_flight;   // what is in flight or fetched goes stale
    std::function<void(const Starts&)> restart_at;    // fetch from these offsets
  };

  OffsetResets(const config::Lambda& lambda, shm::Stats& stats, Assignment& assignment, Broker broker, Actions actions)
      : lambda_(lambda), stats_(stats), assignment_(assignment), broker_(std::move(broker)), actions_(std::move(actions)) {}

  // A reset of p at offset `at` (negative: no committed offset), handled by handle().
  void note(const Partition& p, std::int64_t at) { pending_.emplace_back(Assignment::key_of(p.topic_index, p.partition), at); }
  bool pending() const { return !pending_.empty(); }
  // Handles the resets noted since the last call together: a new group's partitions all
  // report one at once, and one ListOffsets and one restart start them all (one round
  // trip each started 64 partitions over ~120 ms).
  void handle();

 private:
  void start_fresh(const std::vector<Partition*>& fresh);
  void out_of_range(Partition& p, std::int64_t at);

  const config::Lambda& lambda_;
  shm::Stats& stats_;
  Assignment& assignment_;
  Broker broker_;
  Actions actions_;
  std::vector<std::pair<Assignment::Key, std::int64_t>> pending_;  // partition, offset of the reset
};

}  // namespace sluice::consumer
