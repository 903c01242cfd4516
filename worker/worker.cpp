#include "worker/worker.hpp"

#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "config/lambda_json.hpp"
#include "shm/segment.hpp"
#include "shm/control_channel.hpp"
#include "process/stop_signal.hpp"
#include "worker/exec_handler.hpp"
#include "worker/plugin_handler.hpp"
#include "worker/worker_loop.hpp"

namespace sluice::worker {
namespace {

std::atomic<bool> g_stop{false};

// Under memory pressure the kernel should kill a worker (restarted alone, its records
// redelivered) rather than the consumer or the supervisor.
void prefer_oom_kill() {
  std::ofstream f("/proc/self/oom_score_adj");
  f << 500;
}

// memory_limit_mb bounds the address space of the worker and what its handler starts, so
// a leaking handler fails its own allocations (and is restarted like any crash) long
// before the machine runs short. Address space, not RSS: the segment mapping and the
// libraries count too; a cgroup limit (systemd MemoryMax=) bounds RSS for the service.
void apply_memory_limit(const config::Lambda& lambda) {
  if (lambda.handler.memory_limit_mb == 0) return;
  const rlim_t bytes = static_cast<rlim_t>(lambda.handler.memory_limit_mb) << 20;
  const rlimit lim{bytes, bytes};
  if (setrlimit(RLIMIT_AS, &lim) != 0) {
    throw std::runtime_error("cannot set memory_limit_mb (RLIMIT_AS " + std::to_string(bytes) + "): " +
                             std::strerror(errno));
  }
}

}  // namespace

std::unique_ptr<Handler> make_local_handler(const config::Lambda& lambda, std::uint32_t slot) {
  switch (lambda.handler.type) {
    case config::HandlerType::kPlugin:
      return std::make_unique<PluginHandler>(lambda, slot);
    case config::HandlerType::kExec:
    case config::HandlerType::kPython:
      return std::make_unique<ExecHandler>(lambda, slot);
    case config::HandlerType::kHttp:
      throw std::runtime_error("lambda " + lambda.name + ": http handlers run in sluice-http-worker, not sluice-worker");
  }
  throw std::logic_error("unknown handler type");
}

int run_worker(const std::string& lambda_name, int segment_fd, int layout_fd, std::uint32_t slot,
               HandlerFactory make_handler, DecoderFactory make_decoder) {
  process::stop_on_request(g_stop);
  prefer_oom_kill();
  auto seg = shm::Segment::attach(segment_fd, layout_fd, "lambda " + lambda_name);
  if (slot >= seg.workers()) {
    spdlog::error("worker slot {} out of range: lambda {} has {} workers", slot, lambda_name, seg.workers());
    return 2;
  }
  const config::Lambda lambda = config::lambda_from_json(nlohmann::json::parse(seg.config_json()));
  apply_memory_limit(lambda);
  std::unique_ptr<RecordDecoder> decoder;
  if (!lambda.schema_registry.url.empty()) {
    if (make_decoder == nullptr) {
      throw std::runtime_error("lambda " + lambda.name + ": schema-registry decoding runs in sluice-http-worker");
    }
    decoder = make_decoder(lambda);
  }
  auto handler = make_handler(lambda, slot);
  WorkerLoop loop(seg, lambda, slot, *handler, decoder.get(), g_stop);
  loop.run();
  return loop.ring_corrupt() ? shm::kExitCorruptRing : 0;
}

}  // namespace sluice::worker
