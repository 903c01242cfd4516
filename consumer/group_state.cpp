#include "consumer/group_state.hpp"

#include <spdlog/spdlog.h>

#include "consumer/statistics_sax.hpp"
#include "shm/group_states.hpp"

namespace sluice::consumer {
namespace {

// Reads the two names from the group object; stops at its end.
class GroupReader : public StatisticsSax {
 public:
  GroupState group;
  bool found = false;

  bool key(string_t& k) override {
    if (depth_ == 1) field_ = k;
    return true;
  }
  bool end_object() override { return StatisticsSax::end_object() && depth_ > 0; }
  bool string(string_t& v) override {
    if (depth_ == 1 && field_ == "state") group.state = v;
    if (depth_ == 1 && field_ == "join_state") {
      group.join_state = v;
      found = true;
    }
    return true;
  }

 private:
  std::string field_;
};

}  // namespace

std::optional<GroupState> read_group_state(std::string_view statistics_json) {
  // librdkafka writes "cgrp" after "topics", the report's bulk (a 64-partition report is
  // tens of KiB), so the last occurrence of the key is the group's: a topic named "cgrp"
  // comes before it. Reading from there skips the rest. A report without a group whose
  // last "cgrp" key is a topic's has no join_state in it: not found.
  static constexpr std::string_view kKey = "\"cgrp\":";
  const std::size_t at = statistics_json.rfind(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view rest = statistics_json.substr(at + kKey.size());
  GroupReader reader;
  // Not strict: the parse ends (by the reader's choice) before the text does.
  nlohmann::json::sax_parse(rest.begin(), rest.end(), &reader, nlohmann::json::input_format_t::json, false);
  if (!reader.found) return std::nullopt;
  return reader.group;
}

void GroupWatch::record(shm::Stats& stats, const GroupState& g, std::uint64_t now_ns) {
  stats.group_state.store(shm::code_of(shm::kGroupStates, g.state), std::memory_order_relaxed);
  stats.group_join_state.store(shm::code_of(shm::kJoinStates, g.join_state), std::memory_order_relaxed);
  if (g.settled()) {
    if (warned_) {
      spdlog::info("lambda {}: settled in consumer group {} again after {} s", lambda_, group_,
                   (now_ns - unsettled_since_ns_) / 1'000'000'000);
    }
    unsettled_since_ns_ = 0;
    warned_ = false;
  } else if (unsettled_since_ns_ == 0) {
    unsettled_since_ns_ = now_ns;
  } else if (!warned_ && now_ns - unsettled_since_ns_ >= shm::kUnsettledTooLongNs) {
    warned_ = true;
    spdlog::warn("lambda {}: not settled in consumer group {} for {} s (group state {}, join state {}); librdkafka keeps "
                 "trying, and partitions it has not been assigned are not consumed meanwhile",
                 lambda_, group_, (now_ns - unsettled_since_ns_) / 1'000'000'000, g.state, g.join_state);
  }
  stats.group_unsettled_ns.store(unsettled_since_ns_, std::memory_order_relaxed);
}

}  // namespace sluice::consumer
