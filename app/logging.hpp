#pragma once

#include <string>

namespace sluice::app {

// Logs to stderr, one line per event, tagged with the process role ("supervisor",
// "consumer orders", "worker orders/2") so interleaved child output stays readable.
void init_logging(const std::string& role);

}  // namespace sluice::app
