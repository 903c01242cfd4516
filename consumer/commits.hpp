// The last step of the commit rule: each partition's committable offset (its
// OffsetTracker's) is stored for librdkafka's auto-commit every commit_interval_ms, or
// committed synchronously on revoke and at shutdown, and counts as committed only when
// the broker says it took it (docs/architecture.md, "Commits").
#pragma once

#include <functional>
#include <string>

#include <librdkafka/rdkafka.h>

#include "consumer/assignment.hpp"
#include "shm/layout.hpp"

namespace sluice::consumer {

class Commits {
 public:
  // How offsets reach librdkafka: rd_kafka_offsets_store and a synchronous
  // rd_kafka_commit on the consumer's handle.
  struct Client {
    std::function<rd_kafka_resp_err_t(rd_kafka_topic_partition_list_t&)> store;
    std::function<rd_kafka_resp_err_t(rd_kafka_topic_partition_list_t&)> commit;
  };

  Commits(std::string lambda_name, shm::Stats& stats, Assignment& assignment, Client client)
      : lambda_name_(std::move(lambda_name)), stats_(stats), assignment_(assignment), client_(std::move(client)) {}

  // Stores every partition's committable offset that the broker has not taken yet (and,
  // unless sync, that is not already on its way); sync also commits them now.
  void commit(bool sync);
  // The broker's answer (librdkafka's commit callback, or a synchronous commit's).
  void on_commit(rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* offsets);

 private:
  const std::string lambda_name_;
  shm::Stats& stats_;
  Assignment& assignment_;
  Client client_;
};

}  // namespace sluice::consumer
