#include "consumer/broker_state.hpp"

#include "consumer/statistics_sax.hpp"

namespace sluice::consumer {
namespace {

// Reads the "brokers" object of a statistics report as it streams past, and stops the
// parse at its end: the per-topic and per-partition parts that follow it are most of
// the text (a full DOM parse of a 64-partition report cost ~2.5 M instructions a
// second, measured with callgrind).
class BrokerCounter : public StatisticsSax {
 public:
  BrokerCounts counts;
  bool found = false;

  bool key(string_t& k) override {
    if (depth_ == 1) in_brokers_ = k == "brokers";
    if (in_brokers_ && depth_ == 3) field_ = k;
    return true;
  }
  bool start_object(std::size_t n) override {
    StatisticsSax::start_object(n);
    if (in_brokers_ && depth_ == 2) found = true;
    if (in_brokers_ && depth_ == 3) broker_ = Broker{};
    return true;
  }
  bool end_object() override {
    if (in_brokers_ && depth_ == 3 && broker_.source != "internal") {  // librdkafka's own queue, no connection
      if (broker_.state == "UP") ++counts.up;
      if (broker_.nodeid >= 0) ++counts.known;
    }
    StatisticsSax::end_object();
    return !(in_brokers_ && depth_ == 1);  // the brokers are read: stop here
  }
  bool string(string_t& v) override {
    if (in_brokers_ && depth_ == 3) {
      if (field_ == "state") broker_.state = v;
      if (field_ == "source") broker_.source = v;
    }
    return true;
  }
  bool number_integer(number_integer_t v) override {
    if (in_brokers_ && depth_ == 3 && field_ == "nodeid") broker_.nodeid = v;
    return true;
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (in_brokers_ && depth_ == 3 && field_ == "nodeid") broker_.nodeid = static_cast<std::int64_t>(v);
    return true;
  }

 private:
  struct Broker {
    std::string state;
    std::string source;
    std::int64_t nodeid = -1;
  };
  bool in_brokers_ = false;
  std::string field_;
  Broker broker_;
};

}  // namespace

std::optional<BrokerCounts> count_brokers(std::string_view statistics_json) {
  BrokerCounter counter;
  // Not strict: the parse ends (by the handler's choice) before the text does.
  nlohmann::json::sax_parse(statistics_json.begin(), statistics_json.end(), &counter, nlohmann::json::input_format_t::json,
                            false);
  if (!counter.found) return std::nullopt;
  return counter.counts;
}

void record_brokers(shm::Stats& stats, const BrokerCounts& counts, std::uint64_t now_ns) {
  stats.brokers_up.store(counts.up, std::memory_order_relaxed);
  stats.brokers_known.store(counts.known, std::memory_order_relaxed);
  stats.brokers_seen_ns.store(now_ns, std::memory_order_relaxed);
  if (counts.up > 0) {
    stats.brokers_down_ns.store(0, std::memory_order_relaxed);
  } else if (stats.brokers_down_ns.load(std::memory_order_relaxed) == 0) {
    stats.brokers_down_ns.store(now_ns, std::memory_order_relaxed);
  }
}

void record_all_brokers_down(shm::Stats& stats, std::uint64_t now_ns) {
  stats.brokers_up.store(0, std::memory_order_relaxed);
  stats.brokers_seen_ns.store(now_ns, std::memory_order_relaxed);
  if (stats.brokers_down_ns.load(std::memory_order_relaxed) == 0) stats.brokers_down_ns.store(now_ns, std::memory_order_relaxed);
}

}  // namespace sluice::consumer
