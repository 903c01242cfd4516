// The whole path with real processes: dev broker, `sluice run` (supervisor, consumers,
// workers), shared-memory rings, the recorder plugin, and committed offsets read back
// from a separate client.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "daemon_test.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 8;

class Pipeline : public DaemonTest {
 protected:
};

TEST_F(Pipeline, TwoLambdasOnOneTopicEachHandleEveryMessageAndCommitToTheEnd) {
  constexpr std::uint64_t kMessages = 100'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "alpha", .topic = "events", .workers = 3},
                                      {.name = "beta", .topic = "events", .workers = 3}}));
  for (const std::string name : {"alpha", "beta"}) {
    std::vector<Outcome> out;
    ASSERT_NO_FATAL_FAILURE(out = expect_delivered(broker.bootstrap(), d, name, kMessages, kPartitions, 180s));
    EXPECT_EQ(count_duplicates(out), 0U) << name << ": no fault, so no redelivery";
  }
  expect_clean_stop(d);
}

TEST_F(Pipeline, WorkerKilledMidRunLosesNothingAndOnlyThatWorkerRestarts) {
  constexpr std::uint64_t kMessages = 100'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "w", .topic = "events", .workers = 3, .sleep_us = 30}}));
  ASSERT_TRUE(wait_until([&] { return committed_sum(broker.bootstrap(), "lambda-w") > 10'000; }, 120s)) << d.log();
  const auto consumers_before = d.children("consumer");
  const auto workers = d.children("worker");
  ASSERT_EQ(workers.size(), 3U);
  ASSERT_EQ(::kill(workers[1], SIGKILL), 0);
  ASSERT_LT(committed_sum(broker.bootstrap(), "lambda-w"), static_cast<std::int64_t>(kMessages)) << "killed too late";

  std::vector<Outcome> out;
  ASSERT_NO_FATAL_FAILURE(out = expect_delivered(broker.bootstrap(), d, "w", kMessages, kPartitions, 180s));
  // batch_size 1: a worker releases each record right after its outcome, so a kill can
  // repeat at most the one record it had finished but not yet released.
  EXPECT_LE(count_duplicates(out), 1U);
  EXPECT_EQ(d.children("consumer"), consumers_before) << "a worker crash must not restart the consumer";
  EXPECT_EQ(d.children("worker").size(), 3U);
  EXPECT_NE(d.log().find("worker 1 ended: worker killed by SIGKILL"), std::string::npos) << d.log();
  expect_clean_stop(d);
}

TEST_F(Pipeline, ConsumerKilledMidRunLosesNothingAndRedeliversOnlyUncommitted) {
  constexpr std::uint64_t kMessages = 100'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "c", .topic = "events", .workers = 3, .sleep_us = 30}}));
  ASSERT_TRUE(wait_until([&] { return committed_sum(broker.bootstrap(), "lambda-c") > 10'000; }, 120s)) << d.log();
  const auto before = committed_offsets(broker.bootstrap(), "lambda-c", "events");
  const auto consumers = d.children("consumer");
  ASSERT_EQ(consumers.size(), 1U);
  ASSERT_EQ(::kill(consumers[0], SIGKILL), 0);

  std::vector<Outcome> out;
  ASSERT_NO_FATAL_FAILURE(out = expect_delivered(broker.bootstrap(), d, "c", kMessages, kPartitions, 180s));
  // I3: a repeated record lies at or above the offset committed before the kill.
  std::set<std::pair<int, std::int64_t>> seen;
  for (const auto& o : out) {
    if (!seen.emplace(o.partition, o.offset).second) {
      EXPECT_GE(o.offset, before.at(o.partition)) << "partition " << o.partition << " redelivered a committed offset";
    }
  }
  EXPECT_NE(d.children("consumer"), consumers) << "the consumer was not restarted";
  expect_clean_stop(d);
}

TEST_F(Pipeline, SigtermUnderLoadCommitsEverythingHandledAndRestartDeliversNoDuplicates) {
  constexpr std::uint64_t kMessages = 100'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  const std::string cfg = daemon_config(instance, dir.path(), broker.bootstrap(),
                                        {{.name = "t", .topic = "events", .workers = 3, .sleep_us = 30}});
  {
    Daemon d(dir.path(), cfg, "first");
    ASSERT_TRUE(wait_until([&] { return committed_sum(broker.bootstrap(), "lambda-t") > 10'000; }, 120s)) << d.log();
    expect_clean_stop(d);
  }
  // I6: committed == position: every partition's commit is one past the last record
  // handled, and nothing beyond it was handled.
  const auto committed = committed_offsets(broker.bootstrap(), "lambda-t", "events");
  auto out = read_outcomes(outcomes(), "t");
  std::map<int, std::int64_t> last;
  for (const auto& o : out) last[o.partition] = std::max(last.contains(o.partition) ? last[o.partition] : -1, o.offset);
  for (int p = 0; p < kPartitions; ++p) {
    const std::int64_t expect = last.contains(p) ? last[p] + 1 : -1;
    EXPECT_EQ(committed.at(p), expect) << "partition " << p;
  }
  ASSERT_LT(out.size(), kMessages) << "stopped too late to be under load";
  EXPECT_EQ(count_duplicates(out), 0U);

  Daemon again(dir.path(), cfg, "second");
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-t", kMessages, kPartitions); }, 180s))
      << again.log();
  out = read_outcomes(outcomes(), "t");
  EXPECT_EQ(check_no_loss(out, kMessages), "");
  EXPECT_EQ(count_duplicates(out), 0U) << "a restart after a clean stop must not redeliver";
  expect_clean_stop(again);
}

TEST_F(Pipeline, BackpressurePausesAndResumesWithoutLoss) {
  constexpr std::uint64_t kMessages = 30'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  // "ring": rings of 64 KiB hold ~350 records, so they fill; "inflight": at most 20
  // records of a partition out at once, so that limit pauses first.
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "ring", .topic = "events", .workers = 2, .sleep_us = 20,
                                       .extra = "ring_bytes = 65536\nmax_record_bytes = 16384\n"},
                                      {.name = "inflight", .topic = "events", .workers = 2, .sleep_us = 20,
                                       .extra = "max_in_flight = 20\n"}}));
  for (const std::string name : {"ring", "inflight"}) {
    ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-" + name, kMessages, kPartitions); }, 180s))
        << name << "\n" << d.log();
    const auto out = read_outcomes(outcomes(), name);
    EXPECT_EQ(check_no_loss(out, kMessages), "") << name;
    EXPECT_EQ(check_commit_safety(out, committed_offsets(broker.bootstrap(), "lambda-" + name, "events")), "") << name;
    EXPECT_EQ(count_duplicates(out), 0U) << name;
  }
  expect_clean_stop(d);
  EXPECT_GT(backpressure_pauses(d.log(), "ring"), 0) << "the ring-full path was not exercised\n" << d.log();
  EXPECT_GT(backpressure_pauses(d.log(), "inflight"), 0) << "the max_in_flight path was not exercised\n" << d.log();
}

TEST_F(Pipeline, SupervisorKilledTakesItsChildrenAndItsMemoryAlong) {
  constexpr std::uint64_t kMessages = 100'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  const std::string cfg = daemon_config(instance, dir.path(), broker.bootstrap(),
                                        {{.name = "s", .topic = "events", .workers = 3, .sleep_us = 30}});
  {
    Daemon d(dir.path(), cfg, "first");
    ASSERT_TRUE(wait_until([&] { return committed_sum(broker.bootstrap(), "lambda-s") > 10'000; }, 120s)) << d.log();
    auto children = d.children("worker");
    for (pid_t c : d.children("consumer")) children.push_back(c);
    ASSERT_EQ(children.size(), 4U);
    d.signal(SIGKILL);
    ASSERT_TRUE(d.wait_exit(10s).has_value());
    // PR_SET_PDEATHSIG: no child outlives the supervisor, so none goes on consuming.
    EXPECT_TRUE(wait_until([&] { return std::none_of(children.begin(), children.end(), process_alive); }, 10s))
        << "children outlived the supervisor";
  }
  EXPECT_EQ(check_commit_safety(read_outcomes(outcomes(), "s"), committed_offsets(broker.bootstrap(), "lambda-s", "events")),
            "");
  // Segments are memfds: they went with the last process that held them, nothing to reclaim.
  EXPECT_EQ(check_hygiene(instance), "");

  Daemon again(dir.path(), cfg, "second");
  std::vector<Outcome> out;
  ASSERT_NO_FATAL_FAILURE(out = expect_delivered(broker.bootstrap(), again, "s", kMessages, kPartitions, 180s));
  expect_clean_stop(again);
}

// Handling order per worker is the order of its outcome log.
using Order = std::map<std::string, std::vector<const Outcome*>>;

TEST_F(Pipeline, KeyOrderingKeepsEqualKeysInOffsetOrderAcrossWorkers) {
  constexpr std::uint64_t kMessages = 20'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "k", .topic = "events", .workers = 3, .ordering = "key"}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-k", kMessages, kPartitions); }, 120s)) << d.log();
  const auto out = read_outcomes(outcomes(), "k");
  ASSERT_EQ(check_no_loss(out, kMessages), "");
  std::map<std::string, std::string> worker_of_key;
  std::map<std::pair<int, std::string>, std::int64_t> last;  // (partition, key) -> last offset
  std::set<std::string> workers_used;
  for (const auto& o : out) {
    auto [it, fresh] = worker_of_key.emplace(o.key, o.file);
    EXPECT_EQ(it->second, o.file) << "key " << o.key << " went to two workers";
    workers_used.insert(o.file);
    const auto k = std::make_pair(o.partition, o.key);
    if (last.contains(k)) {
      EXPECT_GT(o.offset, last[k]) << "key " << o.key << " out of order in partition " << o.partition;
    }
    last[k] = o.offset;
  }
  EXPECT_EQ(workers_used.size(), 3U) << "keys must spread over the workers";
  expect_clean_stop(d);
}

TEST_F(Pipeline, PartitionOrderingKeepsEachPartitionOnOneWorkerInOffsetOrder) {
  constexpr std::uint64_t kMessages = 20'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "p", .topic = "events", .workers = 3}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-p", kMessages, kPartitions); }, 120s)) << d.log();
  const auto out = read_outcomes(outcomes(), "p");
  ASSERT_EQ(check_no_loss(out, kMessages), "");
  std::map<int, std::string> worker_of;
  std::map<int, std::int64_t> last;
  for (const auto& o : out) {
    auto [it, fresh] = worker_of.emplace(o.partition, o.file);
    EXPECT_EQ(it->second, o.file) << "partition " << o.partition << " went to two workers";
    if (last.contains(o.partition)) {
      EXPECT_EQ(o.offset, last[o.partition] + 1) << "partition " << o.partition;
    }
    last[o.partition] = o.offset;
  }
  expect_clean_stop(d);
}

}  // namespace
}  // namespace sluice::test
