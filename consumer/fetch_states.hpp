// Each partition's fetcher as librdkafka's statistics report describes it: the state
// of its fetch and the next offset it will fetch. FetchStall reads them to tell a
// fetcher that is behind (records on their way) from one that is not fetching at all.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::consumer {

struct FetchState {
  std::string state;  // "active", "offset-query", "stopped", "none", ...
  std::int64_t next_offset = -1;
  // A state in which librdkafka fetches (or is finding where to fetch from).
  bool fetching() const {
    return state == "active" || state == "offset-query" || state == "offset-wait" || state == "validate-epoch-wait";
  }
};

using FetchStates = std::map<std::pair<std::string, std::int32_t>, FetchState>;

// The report's partitions (librdkafka's "-1", its unassigned-partition queue, left out);
// empty when the text is not a report.
FetchStates read_fetch_states(std::string_view statistics_json);

}  // namespace sluice::consumer
