#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "config/lambda_json.hpp"
#include "consumer/consumer.hpp"
#include "shm/carried_attempts.hpp"
#include "shm/sealed.hpp"
#include "process/stop_signal.hpp"

namespace sluice::consumer {
namespace {

std::atomic<bool> g_stop{false};

}  // namespace

int run_consumer(const std::string& lambda_name, int segment_fd, int layout_fd, int control_fd, int config_fd,
                 int carried_fd) {
  process::stop_on_request(g_stop);

  auto seg = shm::Segment::attach(segment_fd, layout_fd, "lambda " + lambda_name);
  // The whole config comes apart from the segment's copy, which leaves out the Kafka
  // settings (workers never see those).
  if (config_fd < 0) throw std::runtime_error("the consumer needs --config-fd");
  fcntl(config_fd, F_SETFD, FD_CLOEXEC);
  const std::string text = shm::read_sealed(config_fd, "the config of lambda " + lambda_name);
  ::close(config_fd);
  auto lambda = config::lambda_from_json(nlohmann::json::parse(text));
  if (control_fd >= 0) fcntl(control_fd, F_SETFD, FD_CLOEXEC);  // not for the programs librdkafka may run
  Consumer consumer(seg, std::move(lambda), g_stop, control_fd);
  if (carried_fd >= 0) {
    fcntl(carried_fd, F_SETFD, FD_CLOEXEC);
    consumer.carry(shm::decode_carried(shm::read_sealed(carried_fd, "the attempts carried over for lambda " + lambda_name)));
    ::close(carried_fd);
  }
  // Subscribed: the supervisor counts this lambda's consumer as running.
  seg.header().consumer_pid.store(getpid(), std::memory_order_release);
  return consumer.run();
}

}  // namespace sluice::consumer
