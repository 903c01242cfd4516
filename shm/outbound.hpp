// Reply records for outbound records: a handler that answers with records to
// produce makes its worker write them into the reply ring, and the consumer produces
// them and completes the source records only once the broker acknowledged them all.
//
// One invocation's outbound records belong to every record of it that succeeded. The
// worker tags them with the sequence number of the last of those (the "leader") and
// writes a kAwait reply for each of the others, naming the leader: the consumer reaps
// records in ring order, so it has met every awaiting record when it reaches the leader.
//
//   kOutbound  seq = leader; attempts = the leader's attempt (a later attempt's records
//              replace an earlier one's, as with any reply); offset = destination
//              partition, or -1 for the partitioner's choice; aux = destination topic
//              length; the key area holds the topic bytes, then the key.
//   kAwait     seq = the awaiting record; attempts = its attempt; value = the leader's
//              seq (8 bytes).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "shm/ring.hpp"

namespace sluice::shm {

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

struct OutboundView {
  std::string_view topic;
  std::int32_t partition;           // -1: any
  const std::byte* key;             // nullptr: null key
  std::size_t key_len;
  const std::byte* value;           // nullptr: null value
  std::size_t value_len;
  const std::byte* headers;         // shm/headers_codec.hpp encoding
  std::size_t headers_len;
};

inline OutboundView read_outbound(RecordHeader* r) {
  const std::byte* k = record_key(r);
  return OutboundView{std::string_view(reinterpret_cast<const char*>(k), r->aux),
                      static_cast<std::int32_t>(r->offset),
                      (r->flags & kFlagKeyNull) != 0 ? nullptr : k + r->aux,
                      r->key_len - r->aux,
                      (r->flags & kFlagValueNull) != 0 ? nullptr : record_value(r),
                      r->value_len,
                      record_headers(r),
                      r->headers_len};
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
  std::memcpy(record_value(r), &leader_seq, sizeof leader_seq);
}

inline std::uint64_t await_leader(RecordHeader* r) {
  std::uint64_t leader = 0;
  std::memcpy(&leader, record_value(r), sizeof leader);
  return leader;
}

}  // namespace sluice::shm
