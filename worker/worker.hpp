// The worker process: take records from its ring, invoke the handler, write each
// record's outcome, and only then release them (advance the ring's read position).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "worker/handler.hpp"
#include "worker/record_decoder.hpp"

namespace sluice::worker {

using HandlerFactory = std::unique_ptr<Handler> (*)(const config::Lambda& lambda, std::uint32_t slot);

// Plugin and exec handlers. An http handler lives in the sluice-http-worker executable
// (it alone links libcurl and the TLS libraries behind it).
std::unique_ptr<Handler> make_local_handler(const config::Lambda& lambda, std::uint32_t slot);

// Runs until SIGTERM/SIGINT; returns the process exit status. make_decoder: nullptr in
// a worker that cannot decode (sluice-worker: schema-registry decoding needs libcurl and
// Avro C, which only sluice-http-worker links; the supervisor starts that one for a
// lambda with a registry).
int run_worker(const std::string& lambda_name, int segment_fd, int layout_fd, std::uint32_t slot,
               HandlerFactory make_handler, DecoderFactory make_decoder);

}  // namespace sluice::worker
