// The dead-letter producer of one lambda. A record that failed for good is produced to
// the lambda's dead_letter_topic with its key, value and headers plus sluice-* headers
// saying why; its source offset counts as completed only when the broker acknowledged
// the dead letter. A failed dead-letter write is retried, never taken as done.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "consumer/acked_producer.hpp"

namespace sluice::consumer {

struct DeadLetter {
  // Where it came from: the consumer completes this offset on acknowledgement, if the
  // partition is still owned with the same epoch.
  std::uint16_t topic_index = 0;
  std::string source_topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::uint32_t epoch = 0;
  std::uint32_t attempts = 0;
  std::string error;
  // The record itself; nullopt = null key / null value / null header value.
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

class DeadLetterProducer {
 public:
  using Delivered = std::function<void(const DeadLetter&)>;
  // Throws std::runtime_error if the producer cannot be created.
  DeadLetterProducer(const config::Lambda& lambda, Delivered on_delivered);

  void send(DeadLetter dl);
  void poll() { producer_.poll(); }
  std::size_t pending() const { return producer_.pending(); }

 private:
  const std::string topic_;
  const std::string lambda_;
  Delivered on_delivered_;
  std::uint64_t next_token_ = 1;
  std::unordered_map<std::uint64_t, DeadLetter> sent_;
  AckedProducer producer_;  // last: its destructor's final callbacks may still look at sent_
};

}  // namespace sluice::consumer
