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
#include "kafka/acked_producer.hpp"

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
  std::vector<kafka::Header> headers;
};

// A dead letter the broker (or client) refuses as too large is sent again without the
// value, then also without the key and the record's headers, each time with headers
// saying what was dropped and how large it was: the dead letter still says which record
// failed and why. Only if even that is refused is it undeliverable.
class DeadLetterProducer {
 public:
  using Delivered = std::function<void(const DeadLetter&)>;
  using Undeliverable = std::function<void(const DeadLetter&, const std::string& why)>;
  // Throws std::runtime_error if the producer cannot be created.
  DeadLetterProducer(const config::Lambda& lambda, Delivered on_delivered, Undeliverable on_undeliverable);

  void send(DeadLetter dl);
  void poll() { producer_.poll(); }

 private:
  struct Sent {
    DeadLetter letter;
    int dropped = 0;  // 0: whole; 1: without its value; 2: without key, value and headers
    std::string why;  // what the last refusal said
  };
  void produce(std::uint64_t token);

  const std::string topic_;
  const std::string lambda_;
  Delivered on_delivered_;
  Undeliverable on_undeliverable_;
  std::uint64_t next_token_ = 1;
  std::unordered_map<std::uint64_t, Sent> sent_;
  kafka::AckedProducer producer_;  // last: its destructor's final callbacks may still look at sent_
};

}  // namespace sluice::consumer
