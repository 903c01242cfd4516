#include "worker/worker.hpp"

#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "config/lambda_json.hpp"
#include "shm/segment.hpp"
#include "worker/plugin_handler.hpp"
#include "worker/worker_loop.hpp"

namespace sluice::worker {
namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_stop(int) { g_stop.store(true, std::memory_order_relaxed); }

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a futex wait returns at once to see the flag
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

// Under memory pressure the kernel should kill a worker (restarted alone, its records
// redelivered) rather than the consumer or the supervisor.
void prefer_oom_kill() {
  std::ofstream f("/proc/self/oom_score_adj");
  f << 500;
}

std::unique_ptr<Handler> make_handler(const config::Lambda& lambda, std::uint32_t slot) {
  switch (lambda.handler.type) {
    case config::HandlerType::kPlugin:
      return std::make_unique<PluginHandler>(lambda, slot);
    case config::HandlerType::kHttp:
    case config::HandlerType::kExec:
      break;
  }
  throw std::runtime_error(std::string("handler type \"") + config::to_string(lambda.handler.type) +
                           "\" is not available in this build (plugin only)");
}

}  // namespace

int run_worker(const std::string& segment_name, std::uint32_t slot) {
  install_stop_handlers();
  prefer_oom_kill();
  auto seg = shm::Segment::attach(segment_name);
  if (slot >= seg.workers()) {
    spdlog::error("worker slot {} out of range: segment {} has {} workers", slot, segment_name, seg.workers());
    return 2;
  }
  const config::Lambda lambda = config::lambda_from_json(nlohmann::json::parse(seg.config_json()));
  auto handler = make_handler(lambda, slot);
  WorkerLoop loop(seg, lambda, slot, *handler, g_stop);
  loop.run();
  return 0;
}

}  // namespace sluice::worker
