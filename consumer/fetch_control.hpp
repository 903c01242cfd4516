// Every change the consumer makes to what librdkafka fetches: pause, resume, assign,
// unassign, and restarting a partition at an offset. librdkafka can lose a partition's
// fetch without a word when these are made in the wrong order (see each function), so
// they are made here only. Partition::paused is what was last asked of librdkafka.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "consumer/assignment.hpp"

namespace sluice::consumer {

class FetchControl {
 public:
  // `rk` must outlive this object; `lambda` names the lambda in log lines.
  FetchControl(rd_kafka_t* rk, std::string lambda) : rk_(rk), lambda_(std::move(lambda)) {}

  // Whether the group's rebalance protocol is cooperative (else eager); known from the
  // first rebalance on.
  void set_cooperative(bool cooperative) { cooperative_ = cooperative; }

  void set_paused(Partition& p, bool paused);
  // Unpauses p. When every assigned partition was paused, also wakes its leader's broker
  // thread, which librdkafka 2.0.2 leaves asleep for up to a second.
  void resume(Partition& p, bool all_were_paused);

  // The rebalance callback's halves. assign() first clears any pause the partitions kept
  // from an earlier assignment. Errors are logged.
  void assign(rd_kafka_topic_partition_list_t* parts);
  void unassign(rd_kafka_topic_partition_list_t* parts);

  // Starts each partition's fetch again at its offset (a logical one lets librdkafka
  // resolve it), in the pause state it is to have: paused if stopped, backlogged or
  // `shutting_down`. Sets each partition's `expected` and restarts its stall watch.
  // Returns "" or why librdkafka refused (then nothing was restarted).
  std::string restart_at(const std::vector<std::pair<Partition*, std::int64_t>>& starts, bool shutting_down);

 private:
  rd_kafka_t* rk_;
  std::string lambda_;
  bool cooperative_ = false;
};

}  // namespace sluice::consumer
