// `sluice-worker` and `sluice-http-worker`: the worker processes the supervisor starts, one
// per ring. They are executables of their own, apart from `sluice`, so that a worker maps
// neither the Kafka client nor (outside sluice-http-worker) libcurl and the TLS stacks
// it loads: a plugin worker's resident memory and start-up stay small.
#include <CLI/CLI.hpp>

#include <spdlog/spdlog.h>

#include "app/logging.hpp"
#include "worker/worker.hpp"
#ifdef SLUICE_HTTP_WORKER
#include "worker/http_handler.hpp"
#endif

namespace {

std::unique_ptr<sluice::worker::Handler> make_handler(const sluice::config::Lambda& lambda, std::uint32_t slot) {
#ifdef SLUICE_HTTP_WORKER
  if (lambda.handler.type == sluice::config::HandlerType::kHttp) {
    return std::make_unique<sluice::worker::HttpHandler>(lambda);
  }
#endif
  return sluice::worker::make_local_handler(lambda, slot);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"worker process of one sluice lambda (started by `sluice run`)"};
  std::string lambda;
  std::uint32_t slot = 0;
  int segment_fd = -1;
  int layout_fd = -1;
  std::string instance;
  app.add_option("--instance", instance, "Instance of the daemon (for ps)");
  app.add_option("--lambda", lambda, "Lambda name (for logs; the config is in the segment)")->required();
  app.add_option("--slot", slot, "Worker slot (ring) in the segment")->required();
  app.add_option("--segment-fd", segment_fd, "Inherited descriptor of the lambda's shared memory")->required();
  app.add_option("--layout-fd", layout_fd, "Inherited descriptor of its sealed layout and config")->required();
  CLI11_PARSE(app, argc, argv);
  sluice::app::init_logging("worker " + lambda + "/" + std::to_string(slot));
  try {
    return sluice::worker::run_worker(lambda, segment_fd, layout_fd, slot, &make_handler);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
