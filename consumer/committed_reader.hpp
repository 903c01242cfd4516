// Reads a group's committed offsets from the broker without blocking the consumer loop
// (an OffsetFetch through librdkafka's admin API, answered on a queue polled each pass).
// The consumer reports them from the moment a partition is assigned: before its own
// first commit it knows nothing else that is true about the group's position.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kafka/kafka_handles.hpp"

namespace sluice::consumer {

class CommittedReader {
 public:
  struct Answer {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;  // shm::kNothingCommitted when the group has none
  };

  CommittedReader(rd_kafka_t* rk, std::string group_id);

  void request(const std::vector<std::pair<std::string, std::int32_t>>& partitions);
  // Answers that arrived since the last call. A request that failed (the coordinator
  // unreachable, a partition in error) answers nothing for those partitions: the
  // consumer asks again for what it still lacks once nothing is outstanding.
  std::vector<Answer> take();
  bool outstanding() const { return outstanding_ > 0; }

 private:
  rd_kafka_t* rk_;
  std::string group_id_;
  kafka::QueuePtr queue_;
  int outstanding_ = 0;
};

}  // namespace sluice::consumer
