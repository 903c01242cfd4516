#include "app/dev_broker.hpp"

#include <signal.h>

#include <cstdio>
#include <stdexcept>

// rdkafka.h must come before rdkafka_mock.h.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/spdlog.h>

#include "consumer/kafka_handles.hpp"

namespace sluice::app {

int run_dev_broker(int brokers, const std::vector<std::string>& topics) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // Block before librdkafka starts its threads so they inherit the mask and the signal
  // reaches sigwait below.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  // The mock cluster needs a client handle to live in; it never connects anywhere.
  auto rk = consumer::make_client(RD_KAFKA_PRODUCER, consumer::make_conf({{"log_level", "3"}}));
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk.get(), brokers);
  if (mc == nullptr) throw std::runtime_error("cannot start the mock cluster");
  for (const auto& spec : topics) {
    const auto colon = spec.rfind(':');
    const std::string name = spec.substr(0, colon);
    const int parts = colon == std::string::npos ? 1 : std::stoi(spec.substr(colon + 1));
    if (auto err = rd_kafka_mock_topic_create(mc, name.c_str(), parts, std::min(brokers, 3)); err) {
      throw std::runtime_error("cannot create topic " + name + ": " + rd_kafka_err2str(err));
    }
  }
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  std::fflush(stdout);
  spdlog::info("dev broker: {} broker(s) at {}", brokers, rd_kafka_mock_cluster_bootstraps(mc));
  int sig = 0;
  sigwait(&set, &sig);
  rd_kafka_mock_cluster_destroy(mc);
  return 0;
}

}  // namespace sluice::app
