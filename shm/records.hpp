// Every kind of record the rings carry, written and read here and nowhere else: the
// consumer's forward records, and the worker's replies (a failure reason, an outbound
// record to produce, a record awaiting another's outbound records). A reply is read into
// one decoded form per kind; a kind no worker writes is an error, never quietly taken for
// one of the others.
//
// Fields of RecordHeader (shm/layout.hpp) each kind uses:
//
//   kRecord    consumer -> worker. seq = dispatch sequence; offset, partition,
//              topic_index, timestamp_ms/type = the Kafka record's; slot/epoch = its
//              partition slot and that slot's epoch at dispatch; enqueue_ns; flags say a
//              null key / value; key, value, headers (shm/headers_codec.hpp) follow;
//              attempts and status are the worker's to update.
//   kReply     worker -> consumer. seq = the failed record; attempts = its attempt;
//              value = the reason (UTF-8 text, not NUL-terminated).
//   kOutbound  seq = leader (below); attempts = the leader's attempt (a later attempt's
//              records replace an earlier one's); offset = destination partition, or -1
//              for the partitioner's choice; aux = destination topic length; the key
//              area holds the topic bytes, then the key; value and headers as given.
//   kAwait     seq = the awaiting record; attempts = its attempt; value = the leader's
//              seq (8 bytes).
//
// One invocation's outbound records belong to every record of it that succeeded. The
// worker tags them with the sequence number of the last of those (the "leader") and
// writes a kAwait reply for each of the others, naming the leader: the consumer reaps
// records in ring order, so it has met every awaiting record when it reaches the leader.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>

#include "shm/ring.hpp"

namespace sluice::shm {

// ---- forward ring: kRecord -------------------------------------------------------------

struct ForwardRecord {
  std::uint64_t seq{};
  std::int64_t offset{};
  std::int64_t timestamp_ms{};
  std::uint64_t enqueue_ns{};
  std::int32_t partition{};
  std::uint32_t slot{};
  std::uint32_t epoch{};
  std::uint16_t topic_index{};
  std::uint8_t timestamp_type{};
  bool key_null{};
  bool value_null{};
  std::uint32_t key_len{};
  std::uint32_t value_len{};
  std::uint32_t headers_len{};
  std::uint32_t attempts{};  // charged before this delivery (a redelivery carries them)
};

// Fills the fixed fields of a record reserved with record_size(key_len, value_len,
// headers_len) bytes; the caller writes the bytes at record_key/value/headers (the
// consumer encodes Kafka's headers straight into the ring, with no copy in between).
inline void write_forward(RecordHeader* h, const ForwardRecord& f) {
  h->kind = RecordKind::kRecord;
  h->seq = f.seq;
  h->offset = f.offset;
  h->timestamp_ms = f.timestamp_ms;
  h->enqueue_ns = f.enqueue_ns;
  h->partition = f.partition;
  h->slot = f.slot;
  h->epoch = f.epoch;
  h->topic_index = f.topic_index;
  h->timestamp_type = f.timestamp_type;
  h->flags = static_cast<std::uint8_t>((f.key_null ? kFlagKeyNull : 0) | (f.value_null ? kFlagValueNull : 0));
  h->key_len = f.key_len;
  h->value_len = f.value_len;
  h->headers_len = f.headers_len;
  h->attempts.store(f.attempts, std::memory_order_relaxed);
  h->status.store(Status::kPending, std::memory_order_relaxed);
  h->aux = 0;
}

// ---- reply ring: writers ---------------------------------------------------------------

inline std::uint32_t reason_size(std::size_t reason_len) { return record_size(0, reason_len, 0); }

// Fills a record of reason_size(reason.size()) bytes: why `of` failed.
inline void write_reason(RecordHeader* r, const RecordHeader& of, std::string_view reason) {
  r->kind = RecordKind::kReply;
  r->seq = of.seq;
  r->offset = of.offset;
  r->partition = of.partition;
  r->topic_index = of.topic_index;
  r->attempts.store(of.attempts.load(std::memory_order_relaxed), std::memory_order_relaxed);
  r->key_len = 0;
  r->value_len = static_cast<std::uint32_t>(reason.size());
  r->headers_len = 0;
  r->flags = 0;
  r->aux = 0;
  if (!reason.empty()) std::memcpy(record_value(r), reason.data(), reason.size());
}

inline std::uint32_t outbound_size(std::size_t topic_len, std::size_t key_len, std::size_t value_len,
                                   std::size_t headers_len) {
  return record_size(topic_len + key_len, value_len, headers_len);
}

// Fills a reserved record of outbound_size(...) bytes. key/value nullptr = null.
inline void write_outbound(RecordHeader* r, std::uint64_t leader_seq, std::uint32_t attempt, std::string_view topic,
                           std::int32_t partition, const void* key, std::size_t key_len, const void* value,
                           std::size_t value_len, const std::byte* headers, std::size_t headers_len) {
  r->kind = RecordKind::kOutbound;
  r->seq = leader_seq;
  r->offset = partition;
  r->attempts.store(attempt, std::memory_order_relaxed);
  r->aux = static_cast<std::uint32_t>(topic.size());
  r->key_len = static_cast<std::uint32_t>(topic.size() + key_len);
  r->value_len = static_cast<std::uint32_t>(value_len);
  r->headers_len = static_cast<std::uint32_t>(headers_len);
  r->flags = static_cast<std::uint8_t>((key == nullptr ? kFlagKeyNull : 0) | (value == nullptr ? kFlagValueNull : 0));
  std::memcpy(record_key(r), topic.data(), topic.size());
  if (key_len != 0) std::memcpy(record_key(r) + topic.size(), key, key_len);
  if (value_len != 0) std::memcpy(record_value(r), value, value_len);
  if (headers_len != 0) std::memcpy(record_headers(r), headers, headers_len);
}

inline constexpr std::uint32_t kAwaitSize = record_size(0, sizeof(std::uint64_t), 0);

inline void write_await(RecordHeader* r, std::uint64_t seq, std::uint32_t attempt, std::uint64_t leader_seq) {
  r->kind = RecordKind::kAwait;
  r->seq = seq;
  r->attempts.store(attempt, std::memory_order_relaxed);
  r->key_len = 0;
  r->value_len = sizeof leader_seq;
  r->headers_len = 0;
  r->flags = 0;
  r->aux = 0;
  std::memcpy(record_value(r), &leader_seq, sizeof leader_seq);
}

// ---- reply ring: the reader ------------------------------------------------------------

// Views point into the ring: valid until the reply is released. Each good kind names, as
// `seq`, the in-flight record of its ring it is about.
struct ReasonReply {
  std::uint64_t seq;
  std::uint32_t attempt;
  std::string_view reason;
};
struct OutboundReply {
  std::uint64_t seq;  // the leader: the last record of the invocation that asked for it
  std::uint32_t attempt;
  std::string_view topic;
  std::int32_t partition;    // -1: the partitioner chooses
  const char* key;           // nullptr: null key
  std::size_t key_len;
  const char* value;         // nullptr: null value
  std::size_t value_len;
  const std::byte* headers;  // shm/headers_codec.hpp encoding, not yet checked
  std::size_t headers_len;
};
struct AwaitReply {
  std::uint64_t seq;
  std::uint32_t attempt;
  std::uint64_t leader_seq;
};
struct BadReply {
  std::string why;
};
using Reply = std::variant<ReasonReply, OutboundReply, AwaitReply, BadReply>;

// Decodes the reply at `h`, of the size its ring reader checked. Every field is read once
// (a worker may be writing the ring meanwhile) and every length is checked against `size`.
Reply read_reply(const RecordHeader* h, std::uint32_t size);

}  // namespace sluice::shm
