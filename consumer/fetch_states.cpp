#include "consumer/fetch_states.hpp"

#include <charconv>

#include "consumer/statistics_sax.hpp"

namespace sluice::consumer {
namespace {

// Streams past the report keeping two fields of each topics.<t>.partitions.<p> object:
// a DOM of a report with many partitions costs more than the consumer wants to spend
// every second (see broker_state.cpp).
class FetchStateReader : public StatisticsSax {
 public:
  FetchStates states;

  bool key(string_t& k) override {
    keys_[static_cast<std::size_t>(depth_)] = k;
    return true;
  }
  bool start_object(std::size_t n) override {
    StatisticsSax::start_object(n);
    if (depth_ >= kDepth) return false;  // deeper than any report: not one
    if (in_partition()) current_ = FetchState{};
    return true;
  }
  bool end_object() override {
    if (in_partition()) {
      std::int32_t partition = -1;
      const std::string& p = keys_[4];
      const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), partition);
      if (ec == std::errc() && end == p.data() + p.size() && partition >= 0) states[{keys_[2], partition}] = current_;
    }
    return StatisticsSax::end_object();
  }
  bool start_array(std::size_t n) override { return StatisticsSax::start_array(n) && depth_ < kDepth; }
  bool string(string_t& v) override {
    if (in_partition_field("fetch_state")) current_.state = v;
    return true;
  }
  bool number_integer(number_integer_t v) override {
    if (in_partition_field("next_offset")) current_.next_offset = v;
    return true;
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (in_partition_field("next_offset")) current_.next_offset = static_cast<std::int64_t>(v);
    return true;
  }

 private:
  static constexpr int kDepth = 16;
  // depth 1 the report, 2 "topics", 3 a topic, 4 its "partitions", 5 a partition.
  bool in_partition() const { return depth_ == 5 && keys_[1] == "topics" && keys_[3] == "partitions"; }
  bool in_partition_field(const char* name) const { return in_partition() && keys_[5] == name; }

  std::string keys_[kDepth + 1];  // the key last read at each depth
  FetchState current_;
};

}  // namespace

FetchStates read_fetch_states(std::string_view statistics_json) {
  FetchStateReader reader;
  if (!nlohmann::json::sax_parse(statistics_json.begin(), statistics_json.end(), &reader)) return {};
  return std::move(reader.states);
}

}  // namespace sluice::consumer
