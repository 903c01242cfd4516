// A producer whose sends count only once the broker acknowledged them (acks=all,
// idempotent). A send that fails for a reason that can pass (a broker away, a leader
// moving, a full queue) is re-sent after a backoff, for as long as it takes: what
// depends on it (a dead letter's or an outbound record's source offset) is never taken
// as done before the acknowledgement. A send that can never succeed as it is (larger than
// the broker or client accepts, a record the broker calls invalid) is handed back to its
// owner instead: retrying it would hold its partition forever. Used for dead letters and
// outbound records.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "kafka/kafka_handles.hpp"

namespace sluice::kafka {

// Errors after which the same message can never be produced: it is too large for the
// client's message.max.bytes or the broker's (topic max.message.bytes), or the broker
// refuses it as a record. Everything else may pass and is retried.
bool is_permanent(rd_kafka_resp_err_t err);

// A record header as produced: a name, and a value or none (null).
using Header = std::pair<std::string, std::optional<std::string>>;
// Copies a header seen in place (a record's, a ring's); a null `value` is a null value.
inline Header make_header(std::string_view name, const void* value, std::size_t len) {
  if (value == nullptr) return {std::string(name), std::nullopt};
  return {std::string(name), std::string(static_cast<const char*>(value), len)};
}

struct OutMessage {
  std::string topic;
  std::int32_t partition = RD_KAFKA_PARTITION_UA;
  std::optional<std::string> key;  // nullopt = null
  std::optional<std::string> value;
  std::vector<Header> headers;
};

class AckedProducer {
 public:
  // Called once per message, with the token it was sent with, when the broker acked it.
  using Acked = std::function<void(std::uint64_t token)>;
  // Called instead, once, when the message can never be produced; with why.
  using Rejected = std::function<void(std::uint64_t token, OutMessage message, rd_kafka_resp_err_t why)>;
  // `role` names the producer in client.id and logs ("dlq", "out"). Throws
  // std::runtime_error if the producer cannot be created.
  AckedProducer(const config::Lambda& lambda, const std::string& role, Acked on_acked, Rejected on_rejected);
  ~AckedProducer();
  AckedProducer(const AckedProducer&) = delete;
  AckedProducer& operator=(const AckedProducer&) = delete;

  // `what` describes the message in warnings ("dead letter for t[1]@5").
  void send(OutMessage m, std::uint64_t token, std::string what);
  // Serves acknowledgements and re-sends failed messages whose backoff has passed.
  void poll();

 private:
  struct Pending {
    OutMessage message;
    std::uint64_t token;
    std::string what;
  };
  static void delivery_cb(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  void produce(std::uint64_t id);
  // Retries it later, or hands it back when `err` says no retry can succeed.
  void failed(std::uint64_t id, rd_kafka_resp_err_t err, const char* stage);

  const std::string lambda_;
  Acked on_acked_;
  Rejected on_rejected_;
  KafkaPtr rk_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Pending> pending_;  // sent or waiting to be re-sent
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> retry_;
};

}  // namespace sluice::kafka
