#include "consumer/kafka_handles.hpp"

#include <stdexcept>

namespace sluice::consumer {

ConfPtr make_conf(const std::map<std::string, std::string>& properties) {
  ConfPtr conf(rd_kafka_conf_new());
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
