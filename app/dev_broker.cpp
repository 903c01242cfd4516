#include "app/dev_broker.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

// rdkafka.h must come before rdkafka_mock.h.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/spdlog.h>

#include "kafka/kafka_handles.hpp"

namespace sluice::app {
namespace {

// Request types by name; the RD_KAFKAP_* constants are not in the installed headers.
const std::map<std::string, int16_t> kApiKeys = {
    {"Produce", 0},       {"Fetch", 1},          {"ListOffsets", 2}, {"Metadata", 3},   {"OffsetCommit", 8},
    {"OffsetFetch", 9},   {"FindCoordinator", 10}, {"JoinGroup", 11},  {"Heartbeat", 12}, {"LeaveGroup", 13},
    {"SyncGroup", 14}};

rd_kafka_resp_err_t parse_error(const std::string& s) {
  const rd_kafka_err_desc* descs = nullptr;
  size_t n = 0;
  rd_kafka_get_err_descs(&descs, &n);
  for (size_t i = 0; i < n; ++i) {
    if (descs[i].name != nullptr && s == descs[i].name) return descs[i].code;
  }
  return static_cast<rd_kafka_resp_err_t>(std::stoi(s));  // throws on anything else
}

int16_t parse_api(const std::string& s) {
  if (auto it = kApiKeys.find(s); it != kApiKeys.end()) return it->second;
  return static_cast<int16_t>(std::stoi(s));
}

void create_topic(rd_kafka_mock_cluster_t* mc, const std::string& name, int partitions, int brokers) {
  if (auto err = rd_kafka_mock_topic_create(mc, name.c_str(), partitions, std::min(brokers, 3)); err) {
    throw std::runtime_error("cannot create topic " + name + ": " + rd_kafka_err2str(err));
  }
}

// One control command. Returns the reply line.
std::string control(rd_kafka_mock_cluster_t* mc, int brokers, const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  auto check = [](rd_kafka_resp_err_t err) { return err ? std::string("error: ") + rd_kafka_err2str(err) : "ok"; };
  if (cmd == "topic") {
    std::string name;
    int parts = 1;
    in >> name >> parts;
    create_topic(mc, name, parts, brokers);
    return "ok";
  }
  if (cmd == "down" || cmd == "up") {
    int32_t id = 0;
    in >> id;
    return check(cmd == "down" ? rd_kafka_mock_broker_set_down(mc, id) : rd_kafka_mock_broker_set_up(mc, id));
  }
  if (cmd == "rtt") {
    int32_t id = 0;
    int ms = 0;
    in >> id >> ms;
    return check(rd_kafka_mock_broker_set_rtt(mc, id, ms));
  }
  if (cmd == "errors") {  // errors API ERROR COUNT
    std::string api, err;
    size_t count = 1;
    in >> api >> err >> count;
    std::vector<rd_kafka_resp_err_t> errs(count, parse_error(err));
    rd_kafka_mock_push_request_errors_array(mc, parse_api(api), count, errs.data());
    return "ok";
  }
  if (cmd == "clear-errors") {
    std::string api;
    in >> api;
    rd_kafka_mock_clear_request_errors(mc, parse_api(api));
    return "ok";
  }
  if (cmd == "coordinator") {  // coordinator group|transaction KEY BROKER
    std::string type, key;
    int32_t id = 0;
    in >> type >> key >> id;
    return check(rd_kafka_mock_coordinator_set(mc, type.c_str(), key.c_str(), id));
  }
  if (cmd == "leader") {  // leader TOPIC PARTITION BROKER
    std::string topic;
    int32_t part = 0, id = 0;
    in >> topic >> part >> id;
    return check(rd_kafka_mock_partition_set_leader(mc, topic.c_str(), part, id));
  }
  return "error: unknown command \"" + cmd + "\" (topic, down, up, rtt, errors, clear-errors, coordinator, leader)";
}

}  // namespace

int run_dev_broker(int brokers, const std::vector<std::string>& topics, const std::string& debug) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // Block before librdkafka starts its threads so they inherit the mask and the signal
  // reaches the signalfd below.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  const int sfd = signalfd(-1, &set, SFD_CLOEXEC);

  // The mock cluster needs a client handle to live in; it never connects anywhere.
  if (!debug.empty()) spdlog::set_level(spdlog::level::debug);  // librdkafka logs debug lines at level 7
  auto rk = kafka::make_client(RD_KAFKA_PRODUCER, debug.empty() ? kafka::make_conf({{"log_level", "3"}})
                                                                 : kafka::make_conf({{"log_level", "7"}, {"debug", debug}}));
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk.get(), brokers);
  if (mc == nullptr) throw std::runtime_error("cannot start the mock cluster");
  for (const auto& spec : topics) {
    const auto colon = spec.rfind(':');
    create_topic(mc, spec.substr(0, colon), colon == std::string::npos ? 1 : std::stoi(spec.substr(colon + 1)), brokers);
  }
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  std::fflush(stdout);
  spdlog::info("dev broker: {} broker(s) at {}; control commands on stdin", brokers, rd_kafka_mock_cluster_bootstraps(mc));

  // Serve control lines from stdin until a signal; EOF on stdin just ends the control
  // channel (a broker started in the background keeps running).
  pollfd fds[2] = {{sfd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
  std::string buf;
  for (;;) {
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents != 0) break;
    if (fds[1].revents != 0) {
      char chunk[4096];
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n <= 0) {
        fds[1].fd = -1;
        continue;
      }
      buf.append(chunk, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1)) {
        const std::string line = buf.substr(0, nl);
        if (line.empty()) continue;
        std::string reply;
        try {
          reply = control(mc, brokers, line);
        } catch (const std::exception& e) {
          reply = std::string("error: ") + e.what();
        }
        spdlog::info("control: {} -> {}", line, reply);
        std::printf("%s\n", reply.c_str());
        std::fflush(stdout);
      }
    }
  }
  rd_kafka_mock_cluster_destroy(mc);
  ::close(sfd);
  return 0;
}

}  // namespace sluice::app
