// Records a handler asks sluice to produce (docs/formats.md), read from its response:
//
//   {"produce": [{"topic": "t", "key": "k", "value": ..., "headers": {"h": "v"}, "partition": 0}]}
//
// `value` is a string (its UTF-8 bytes), null or absent (a tombstone), or any other JSON
// (produced as its JSON text); `value_base64` / `key_base64` carry bytes. `key` absent or
// null is a null key; `partition` absent lets the partitioner choose; header values are
// strings or null. The body may hold other keys too (batchItemFailures, a result).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::worker {

struct OutboundRecord {
  std::string topic;
  std::int32_t partition = -1;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

// Appends the records of `body`'s "produce" list to `out`. A body that is not a JSON
// object, or has no "produce", yields none and is fine. Returns false, with `why`, when
// the list is there but malformed (then nothing is appended).
bool parse_produce(std::string_view body, std::vector<OutboundRecord>& out, std::string& why);

}  // namespace sluice::worker
