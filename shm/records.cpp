#include "shm/records.hpp"

namespace sluice::shm {

Reply read_reply(const RecordHeader* h, std::uint32_t size) {
  const auto f = read_fields(h, size);
  if (!f) return BadReply{"a reply whose lengths do not fit its size"};
  const auto* key = reinterpret_cast<const char*>(h + 1);
  const char* value = key + f->key_len;
  switch (f->kind) {
    case RecordKind::kReply:
      return ReasonReply{f->seq, f->attempts, std::string_view(value, f->value_len)};
    case RecordKind::kOutbound: {
      if (f->aux > f->key_len) return BadReply{"an outbound record whose topic is longer than its key area"};
      return OutboundReply{f->seq,
                           f->attempts,
                           std::string_view(key, f->aux),
                           static_cast<std::int32_t>(f->offset),
                           (f->flags & kFlagKeyNull) != 0 ? nullptr : key + f->aux,
                           f->key_len - f->aux,
                           (f->flags & kFlagValueNull) != 0 ? nullptr : value,
                           f->value_len,
                           reinterpret_cast<const std::byte*>(value + f->value_len),
                           f->headers_len};
    }
    case RecordKind::kAwait: {
      if (f->value_len != sizeof(std::uint64_t)) return BadReply{"an await reply whose value is not a sequence number"};
      std::uint64_t leader = 0;
      std::memcpy(&leader, value, sizeof leader);
      return AwaitReply{f->seq, f->attempts, leader};
    }
    case RecordKind::kRecord:
    case RecordKind::kWrap:
      break;
  }
  return BadReply{"a record of kind " + std::to_string(static_cast<std::uint32_t>(f->kind)) + ", which no worker writes"};
}

}  // namespace sluice::shm
