// The worker process: take records from its ring, invoke the handler, write each
// record's outcome, and only then release them (advance the ring's read position).
#pragma once

#include <cstdint>
#include <string>

namespace sluice::worker {

// Runs until SIGTERM/SIGINT; returns the process exit status.
int run_worker(const std::string& segment_name, std::uint32_t slot);

}  // namespace sluice::worker
