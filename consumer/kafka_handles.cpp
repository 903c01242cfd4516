#include "consumer/kafka_handles.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>

namespace sluice::consumer {
namespace {

// librdkafka's own lines go through sluice's logger, so they carry its format (JSON or
// text with journald's <N> level prefix) and its level filter; written to stderr by
// librdkafka they were all "info" to journald and broke a JSON log stream.
void log_line(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  const auto to = level <= 2 ? spdlog::level::critical
                  : level == 3 ? spdlog::level::err
                  : level == 4 ? spdlog::level::warn
                  : level <= 6 ? spdlog::level::info
                               : spdlog::level::debug;
  spdlog::log(to, "kafka {} {}: {}", rk != nullptr ? rd_kafka_name(rk) : "client", facility, text);
}

}  // namespace

ConfPtr make_conf(const std::map<std::string, std::string>& properties) {
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &log_line);
  char err[512];
  for (const auto& [k, v] : properties) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      throw std::runtime_error("kafka property " + k + ": " + err);
    }
  }
  return conf;
}

KafkaPtr make_client(rd_kafka_type_t type, ConfPtr conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof err);
  if (rk == nullptr) throw std::runtime_error(std::string("cannot create Kafka client: ") + err);
  (void)conf.release();  // rd_kafka_new owns it now
  return KafkaPtr(rk);
}

}  // namespace sluice::consumer
