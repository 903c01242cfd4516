#include "consumer/broker_state.hpp"

#include <nlohmann/json.hpp>

namespace sluice::consumer {

std::optional<BrokerCounts> count_brokers(std::string_view statistics_json) {
  // Only "brokers" is read: the per-topic and per-partition parts, by far the largest,
  // are dropped as they are parsed.
  const auto keep = [](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    return !(depth == 1 && event == nlohmann::json::parse_event_t::key && parsed != "brokers");
  };
  const auto j = nlohmann::json::parse(statistics_json, keep, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const auto it = j.find("brokers");
  if (it == j.end() || !it->is_object()) return std::nullopt;
  BrokerCounts c;
  for (const auto& [name, b] : it->items()) {
    if (!b.is_object()) continue;
    if (b.value("source", std::string()) == "internal") continue;  // librdkafka's own queue, no connection
    if (b.value("state", std::string()) == "UP") ++c.up;
    if (b.value("nodeid", -1) >= 0) ++c.known;
  }
  return c;
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
