// What the consumer tells the supervisor about its broker connections, taken from
// librdkafka's statistics (brokers and the state of each connection) and its
// "all brokers down" error. Without it a lambda cut off from Kafka looked healthy:
// nothing fails while nothing arrives.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "shm/layout.hpp"

namespace sluice::consumer {

struct BrokerCounts {
  std::uint64_t up = 0;     // connections in state UP (bootstrap ones included)
  std::uint64_t known = 0;  // brokers learned from metadata
};

// nullopt when the text is not a statistics report.
std::optional<BrokerCounts> count_brokers(std::string_view statistics_json);

void record_brokers(shm::Stats& stats, const BrokerCounts& counts, std::uint64_t now_ns);
void record_all_brokers_down(shm::Stats& stats, std::uint64_t now_ns);

}  // namespace sluice::consumer
