// RAII owners for librdkafka objects, and construction of a client from properties.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace sluice::kafka {

struct KafkaDeleter {
  void operator()(rd_kafka_t* p) const { rd_kafka_destroy(p); }
  void operator()(rd_kafka_conf_t* p) const { rd_kafka_conf_destroy(p); }
  void operator()(rd_kafka_topic_partition_list_t* p) const { rd_kafka_topic_partition_list_destroy(p); }
  void operator()(rd_kafka_message_t* p) const { rd_kafka_message_destroy(p); }
  void operator()(rd_kafka_queue_t* p) const { rd_kafka_queue_destroy(p); }
  void operator()(rd_kafka_error_t* p) const { rd_kafka_error_destroy(p); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, KafkaDeleter>;

// A conf with every property set; throws std::runtime_error naming the bad property
// (its value is not echoed: it may be a secret).
ConfPtr make_conf(const std::map<std::string, std::string>& properties);

// The properties of a lambda's consumer: its [kafka.properties] and sluice's policy (the
// commit rule's settings are forced; auto.offset.reset is the lambda's own).
std::map<std::string, std::string> consumer_properties(const config::Lambda& l);

// Every [kafka.properties] entry librdkafka refuses (an unknown name, a value of the
// wrong kind, values it refuses only together), where it was written: `validate`,
// start-up and reload report them as config errors instead of a consumer that cannot
// start. Each diagnostic once, however many lambdas share the property.
std::vector<config::Diagnostic> check_properties(const config::Config& c);

// Creates a client, taking ownership of conf; throws std::runtime_error.
KafkaPtr make_client(rd_kafka_type_t type, ConfPtr conf);

}  // namespace sluice::kafka
