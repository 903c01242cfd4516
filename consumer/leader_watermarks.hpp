// Watermarks of partitions the consumer is not fetching, asked of their leaders.
// librdkafka refreshes a partition's cached watermarks only from its fetch responses, so
// while a partition is paused (a full ring, an unavailable handler, a stopped partition)
// its high watermark stays where the last fetch left it and its lag stops growing
// however much is produced; and a partition librdkafka has silently stopped fetching
// (FetchStall) looks caught up by its cache. This asks the leaders on a thread of its
// own (a ListOffsets may wait on a broker that is down; the consumer loop must not).
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kafka/watermarks.hpp"

namespace sluice::consumer {

class LeaderWatermarks {
 public:
  using Partition = std::pair<std::string, std::int32_t>;

  // `rk` must outlive this object (the thread uses it until the destructor joins it).
  LeaderWatermarks(rd_kafka_t* rk, std::chrono::milliseconds interval);
  ~LeaderWatermarks();
  LeaderWatermarks(const LeaderWatermarks&) = delete;
  LeaderWatermarks& operator=(const LeaderWatermarks&) = delete;

  // The partitions to ask about from now on (the rest are forgotten).
  void watch(std::vector<Partition> partitions);
  struct Answer {
    kafka::Watermarks watermarks;
    std::chrono::steady_clock::time_point asked_at;  // when the question was sent
  };
  // The newest answer for a watched partition, if one came since it was last watched.
  std::optional<Answer> latest(const std::string& topic, std::int32_t partition) const;

 private:
  void run(std::stop_token stop);

  rd_kafka_t* rk_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  std::vector<Partition> watched_;
  std::map<Partition, Answer> answers_;
  std::jthread thread_;  // last: started once everything it reads exists
};

}  // namespace sluice::consumer
