// One record librdkafka gave the consumer, as dispatch() looks at it: its headers walked
// once (sized for the ring, then encoded into it or copied into a dead letter from the
// same list), whether the lambda's limits let it reach a handler at all, and the bytes of
// its forward record, and (with `trace`) the trace context it starts for a record that
// has none. Holds views into the message: valid while the message lives.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "config/config.hpp"
#include "consumer/assignment.hpp"
#include "consumer/dead_letters.hpp"
#include "consumer/fetched_header.hpp"
#include "shm/records.hpp"

namespace sluice::consumer {

class IncomingRecord {
 public:
  // start_trace: give a record without a valid traceparent header a new one (`trace`).
  explicit IncomingRecord(bool start_trace = false) : start_trace_(start_trace) {}

  // Reads msg's headers and timestamp.
  void read(const rd_kafka_message_t& msg);
  // The same, with the headers and timestamp given (what read(msg) takes from msg).
  void read(const rd_kafka_message_t& msg, const rd_kafka_headers_t* headers, std::int64_t timestamp,
            rd_kafka_timestamp_type_t timestamp_type);

  // Key, value and encoded headers: what max_record_bytes limits.
  std::uint64_t payload_bytes() const { return msg_->key_len + msg_->len + headers_len_; }
  // Its size as a forward record in a ring.
  std::uint32_t ring_size() const;
  std::uint32_t headers_len() const { return static_cast<std::uint32_t>(headers_len_); }
  // Why the lambda's limits keep it from every handler ("too_large: …", "too_old: …"),
  // or "" when it may be dispatched. now_ms: the wall clock, in Kafka's timestamp unit.
  std::string refusal(const config::Lambda& lambda, std::int64_t now_ms) const;
  // Writes it into a record reserved with ring_size() bytes; `f` brings what the
  // consumer decides (seq, where it is tracked, attempts), the rest comes from the message.
  void write(shm::RecordHeader* h, shm::ForwardRecord f) const;
  // A dead letter of it as fetched (no attempts: it never reached a handler).
  DeadLetter dead_letter(const Partition& p, std::string reason) const;

  using Header = FetchedHeader;
  // What filters look at.
  const std::vector<Header>& headers() const { return headers_; }
  const rd_kafka_message_t& message() const { return *msg_; }

 private:
  bool start_trace_;
  std::string started_trace_;  // the value of a traceparent this record was given
  const rd_kafka_message_t* msg_ = nullptr;
  std::vector<Header> headers_;  // kept between records to reuse the allocation
  std::size_t headers_len_ = 0;
  std::int64_t timestamp_ = -1;
  rd_kafka_timestamp_type_t timestamp_type_ = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
};

}  // namespace sluice::consumer
