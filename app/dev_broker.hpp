#pragma once

#include <string>
#include <vector>

namespace sluice::app {

// `sluice dev-broker`: hosts librdkafka's mock cluster in this process, creates the
// topics ("name:partitions"), prints the bootstrap list on one stdout line, and runs
// until SIGTERM/SIGINT. `debug`: librdkafka debug contexts for its log on stderr.
int run_dev_broker(int brokers, const std::vector<std::string>& topics, const std::string& debug = "");

}  // namespace sluice::app
