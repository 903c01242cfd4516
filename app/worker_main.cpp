// `sluice-worker` and `sluice-http-worker`: the worker processes the supervisor starts, one
// per ring. They are executables of their own, apart from `sluice`, so that a worker maps
// neither the Kafka client nor (outside sluice-http-worker) libcurl and the TLS stacks
// it loads: a plugin worker's resident memory and start-up stay small.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include <spdlog/spdlog.h>

#include "app/logging.hpp"
#include "worker/worker.hpp"
#ifdef SLUICE_HTTP_WORKER
#include "worker/http_handler.hpp"
#include "worker/schema_decoder.hpp"
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
  int output_fd = -1;
  app.add_option("--output-fd", output_fd, "Inherited pipe to the supervisor for everything written to stdout and stderr");
  CLI11_PARSE(app, argc, argv);
  FILE* log = nullptr;
  if (output_fd >= 0) {
    // What a plugin (or anything else in this process: the C library, a sanitizer) writes
    // to stdout or stderr goes to the supervisor, which logs it line by line with this
    // worker's name and a priority, even after a crash; sluice's own lines go where
    // stderr went. (A thread here reading a pipe would lose a crash's last words.)
    const int log_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (log_fd >= 0 && (log = fdopen(log_fd, "w")) != nullptr && dup2(output_fd, 1) == 1 && dup2(output_fd, 2) == 2) {
      close(output_fd);
      setvbuf(stdout, nullptr, _IOLBF, 0);  // a pipe would make it fully buffered: lines late, or lost at a crash
    } else {
      log = nullptr;
    }
  }
  sluice::app::init_logging("worker " + lambda + "/" + std::to_string(slot), log);
  try {
#ifdef SLUICE_HTTP_WORKER
    return sluice::worker::run_worker(lambda, segment_fd, layout_fd, slot, &make_handler, &sluice::worker::make_schema_decoder);
#else
    return sluice::worker::run_worker(lambda, segment_fd, layout_fd, slot, &make_handler, nullptr);
#endif
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
