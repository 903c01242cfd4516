#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "config/lambda_json.hpp"
#include "consumer/consumer.hpp"
#include "shm/stop_signal.hpp"

namespace sluice::consumer {
namespace {

std::atomic<bool> g_stop{false};

}  // namespace

int run_consumer(const std::string& lambda_name, int segment_fd, int layout_fd, int control_fd) {
  shm::stop_on_request(g_stop);

  auto seg = shm::Segment::attach(segment_fd, layout_fd, "lambda " + lambda_name);
  auto lambda = config::lambda_from_json(nlohmann::json::parse(seg.config_json()));
  if (control_fd >= 0) fcntl(control_fd, F_SETFD, FD_CLOEXEC);  // not for the programs librdkafka may run
  Consumer consumer(seg, std::move(lambda), g_stop, control_fd);
  // Subscribed: the supervisor counts this lambda's consumer as running.
  seg.header().consumer_pid.store(getpid(), std::memory_order_release);
  return consumer.run();
}

}  // namespace sluice::consumer
