// What the consumer learns about its partitions from outside its own loop, once a
// second, for the lag the supervisor reports: their watermarks (librdkafka's cache, or
// the leader's answer for a partition not being fetched, consumer/partition_reading.hpp),
// the group's committed offsets until the consumer's own commits take over, and, while
// a partition is suspected of a stalled fetch, librdkafka's fetch states — with which a
// fetch that really stalled is restarted (consumer/fetch_stall.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "config/config.hpp"
#include "consumer/assignment.hpp"
#include "consumer/committed_reader.hpp"
#include "consumer/fetch_states.hpp"
#include "consumer/leader_watermarks.hpp"
#include "consumer/partition_reading.hpp"
#include "shm/layout.hpp"

namespace sluice::consumer {

class PartitionGauges {
 public:
  using RestartFetch = std::function<void(Partition&, std::int64_t offset)>;
  // `rk` must outlive this object (the leaders are asked on a thread of its own).
  PartitionGauges(rd_kafka_t* rk, const config::Lambda& lambda, shm::Stats& stats, Assignment& assignment,
                  RestartFetch restart);

  // librdkafka's statistics report (its stats callback): kept only while a stall is suspected.
  void statistics(std::string_view json);
  // Newly assigned partitions: their committed offsets are asked for.
  void assigned(const std::vector<std::pair<std::string, std::int32_t>>& partitions);
  // Reports the broker's committed offsets that arrived, and asks again for partitions
  // still unknown once nothing is outstanding.
  void read_committed();
  bool committed_outstanding() const { return committed_->outstanding(); }
  // Writes each partition's watermarks to the segment, chooses which leaders to ask, and
  // restarts the fetch of a partition librdkafka has stopped fetching. stopping: the
  // consumer is draining to stop (nothing is fetched any more).
  void publish(bool stopping);

 private:
  void restart_stalled(Partition& p, const FetchSample& s);

  rd_kafka_t* rk_;
  const config::Lambda& lambda_;
  shm::Stats& stats_;
  Assignment& assignment_;
  RestartFetch restart_;
  // From librdkafka's statistics, read only while a partition is suspected of a stall
  // (the report is long, and comes each second).
  bool want_fetch_states_ = false;
  FetchStates fetch_states_;
  std::unique_ptr<CommittedReader> committed_;
  std::unique_ptr<LeaderWatermarks> leaders_;  // last: its thread stops first
};

}  // namespace sluice::consumer
