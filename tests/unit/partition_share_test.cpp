#include <gtest/gtest.h>

#include "consumer/partition_share.hpp"

namespace sluice::consumer {
namespace {

config::Lambda http_by_partition() {
  config::Lambda l;
  l.handler.type = config::HandlerType::kHttp;
  l.handler.max_concurrency = 16;
  l.ordering = config::Ordering::kPartition;
  return l;
}

TEST(PartitionShare, AnHttpLambdaOrderedByPartitionSharesWhatAWorkerLooksAhead) {
  const config::Lambda l = http_by_partition();
  EXPECT_EQ(partition_share(l, 1), shm::kStreamAhead);
  EXPECT_EQ(partition_share(l, 2), shm::kStreamAhead / 2);
  EXPECT_EQ(partition_share(l, 8) * 8, shm::kStreamAhead) << "eight partitions' shares fill it, no more";
  EXPECT_EQ(partition_share(l, 0), shm::kStreamAhead) << "no partition yet: no division by zero";
  EXPECT_EQ(partition_share(l, 100000), kMinPartitionShare) << "never so small that a partition trickles";
}

TEST(PartitionShare, MaxInFlightStaysTheLimitWhenItIsSmaller) {
  config::Lambda l = http_by_partition();
  l.max_in_flight = 100;
  EXPECT_EQ(partition_share(l, 2), 100U);
  l.max_in_flight = 10;
  EXPECT_EQ(partition_share(l, 100000), 10U);
}

TEST(PartitionShare, OtherwiseOnlyMaxInFlight) {
  config::Lambda l = http_by_partition();
  l.ordering = config::Ordering::kKey;
  EXPECT_EQ(partition_share(l, 8), l.max_in_flight) << "keys interleave within a partition's run";
  l = http_by_partition();
  l.ordering = config::Ordering::kNone;
  EXPECT_EQ(partition_share(l, 8), l.max_in_flight);
  l = http_by_partition();
  l.handler.max_concurrency = 1;
  EXPECT_EQ(partition_share(l, 8), l.max_in_flight) << "one request at a time looks at nothing ahead";
  l = http_by_partition();
  l.handler.type = config::HandlerType::kExec;
  EXPECT_EQ(partition_share(l, 8), l.max_in_flight) << "rounds, not streams";
  l.handler.type = config::HandlerType::kPlugin;
  EXPECT_EQ(partition_share(l, 8), l.max_in_flight);
}

}  // namespace
}  // namespace sluice::consumer
