#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "config/lambda_json.hpp"
#include "consumer/consumer.hpp"

namespace sluice::consumer {
namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_stop(int) { g_stop.store(true, std::memory_order_relaxed); }

}  // namespace

int run_consumer(const std::string& segment_name) {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  auto seg = shm::Segment::attach(segment_name);
  seg.header().consumer_pid.store(getpid(), std::memory_order_relaxed);
  auto lambda = config::lambda_from_json(nlohmann::json::parse(seg.config_json()));
  Consumer consumer(seg, std::move(lambda), g_stop);
  return consumer.run();
}

}  // namespace sluice::consumer
