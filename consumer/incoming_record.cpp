#include "consumer/incoming_record.hpp"

#include <cstring>

#include "config/record_age.hpp"
#include "shm/headers_codec.hpp"
#include "shm/trace_context.hpp"

namespace sluice::consumer {

void IncomingRecord::read(const rd_kafka_message_t& msg) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&msg, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) headers = nullptr;
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const std::int64_t timestamp = rd_kafka_message_timestamp(&msg, &type);
  read(msg, headers, timestamp, type);
}

void IncomingRecord::read(const rd_kafka_message_t& msg, const rd_kafka_headers_t* headers, std::int64_t timestamp,
                          rd_kafka_timestamp_type_t timestamp_type) {
  msg_ = &msg;
  timestamp_ = timestamp;
  timestamp_type_ = timestamp_type;
  headers_.clear();
  headers_len_ = 0;
  bool traced = false;
  const char* name = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  for (std::size_t i = 0;
       headers != nullptr && rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    headers_.push_back({name, value, value != nullptr ? size : 0});
    headers_len_ += shm::encoded_header_size(headers_.back().name.size(), headers_.back().size);
    traced = traced || (start_trace_ && value != nullptr && headers_.back().name == shm::kTraceparent &&
                        shm::valid_traceparent({static_cast<const char*>(value), size}));
  }
  if (start_trace_ && !traced) {
    // After the record's own headers, so that the last traceparent (the one every format
    // reads) is the valid one even when the record carried an invalid one.
    started_trace_ = shm::start_traceparent();
    headers_.push_back({shm::kTraceparent, started_trace_.data(), started_trace_.size()});
    headers_len_ += shm::encoded_header_size(shm::kTraceparent.size(), started_trace_.size());
  }
}

std::uint32_t IncomingRecord::ring_size() const { return shm::record_size(msg_->key_len, msg_->len, headers_len_); }

std::string IncomingRecord::refusal(const config::Lambda& lambda, std::int64_t now_ms) const {
  if (payload_bytes() > lambda.max_record_bytes) {
    return "too_large: " + std::to_string(payload_bytes()) + " bytes exceed max_record_bytes " +
           std::to_string(lambda.max_record_bytes);
  }
  if (config::older_than_max_age(lambda, timestamp_, now_ms)) {
    return "too_old: record is " + std::to_string((now_ms - timestamp_) / 1000) + " s old, max_record_age_s is " +
           std::to_string(lambda.max_record_age_s);
  }
  return {};
}

void IncomingRecord::write(shm::RecordHeader* h, shm::ForwardRecord f) const {
  f.offset = msg_->offset;
  f.timestamp_ms = timestamp_;
  f.timestamp_type = static_cast<std::uint8_t>(timestamp_type_);
  f.key_null = msg_->key == nullptr;
  f.value_null = msg_->payload == nullptr;
  f.key_len = static_cast<std::uint32_t>(msg_->key_len);
  f.value_len = static_cast<std::uint32_t>(msg_->len);
  f.headers_len = static_cast<std::uint32_t>(headers_len_);
  shm::write_forward(h, f);
  if (msg_->key_len != 0) std::memcpy(shm::record_key(h), msg_->key, msg_->key_len);
  if (msg_->len != 0) std::memcpy(shm::record_value(h), msg_->payload, msg_->len);
  std::byte* out = shm::record_headers(h);
  for (const Header& hd : headers_) out = shm::encode_header(out, hd.name, hd.value, hd.size);
}

DeadLetter IncomingRecord::dead_letter(const Partition& p, std::string reason) const {
  DeadLetter dl{p.topic_index, p.topic, p.partition, msg_->offset, p.epoch, 0, std::move(reason), std::nullopt,
                std::nullopt, {}};
  if (msg_->key != nullptr) dl.key.emplace(static_cast<const char*>(msg_->key), msg_->key_len);
  if (msg_->payload != nullptr) dl.value.emplace(static_cast<const char*>(msg_->payload), msg_->len);
  for (const Header& h : headers_) dl.headers.push_back(kafka::make_header(h.name, h.value, h.size));
  return dl;
}

}  // namespace sluice::consumer
