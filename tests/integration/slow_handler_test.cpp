// A handler ten times slower than its input (fault scenario 20): the backlog grows
// in the broker, not in sluice. The consumer's and the worker's memory stay within what
// the lambda's config allows however large the backlog gets, the consumer keeps polling so
// the group never evicts it (max.poll.interval.ms is far shorter than the backlog takes
// to drain), and the lag goes back to zero with every record handled exactly once.
// SLUICE_SOAK=1 keeps the input coming for a minute and drains for about ten.
#include <iostream>
#include <sstream>

#include "daemon_test.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

// Resident set of a process in KiB (0 once it has gone).
std::uint64_t rss_kib(pid_t pid) {
  std::istringstream status(read_proc_file("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6));
  }
  return 0;
}

struct Load {
  int partitions;
  std::uint64_t per_batch;
  std::chrono::milliseconds every;
  std::uint64_t records;  // the input stops after this many
  long handler_sleep_us;
};

class SlowHandler : public DaemonTest {};

TEST_F(SlowHandler, TenTimesSlowerThanInputStaysBoundedIsNeverEvictedAndCatchesUp) {
  // Up to 20,000 records/s in (~13,000 reached here) against a handler that sleeps 400 us
  // (< 2,500/s): ~60 MiB of 1 KiB records waiting in the broker at the peak, 2 MiB per
  // partition. The soak: 300,000 records against a 2 ms handler, ten minutes of backlog.
  const Load load = soak() ? Load{128, 1000, 100ms, 300'000, 2000} : Load{32, 2000, 100ms, 64'000, 400};
  constexpr std::size_t kValueBytes = 1000;
  // What the consumer may hold: librdkafka's fetch queue and one fetch, and the ring.
  constexpr std::uint64_t kQueuedKiB = 2048;
  constexpr std::uint64_t kRingBytes = 1 << 20;
  DevBroker broker({"events:" + std::to_string(load.partitions)});
  const std::string extra = "ring_bytes = " + std::to_string(kRingBytes) + "\nmax_record_bytes = 65536" +
                            "\n[lambda.kafka.properties]\n"
                            "\"queued.max.messages.kbytes\" = \"" + std::to_string(kQueuedKiB) + "\"\n"
                            "\"fetch.max.bytes\" = \"1048576\"\n"
                            "\"max.partition.fetch.bytes\" = \"262144\"\n"
                            "\"max.poll.interval.ms\" = \"7000\"\n";
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "s", .topic = "events", .workers = 1, .sleep_us = load.handler_sleep_us,
                                       .extra = extra}}));
  ASSERT_TRUE(wait_until([&] { return d.log().find("lambda s: assigned") != std::string::npos; }, 60s)) << d.log();
  const auto consumers = d.children("consumer");
  const auto workers = d.children("worker");
  ASSERT_EQ(consumers.size(), 1U) << d.log();
  ASSERT_EQ(workers.size(), 1U) << d.log();
  const std::uint64_t consumer_base = rss_kib(consumers[0]);
  const std::uint64_t worker_base = rss_kib(workers[0]);
  std::uint64_t consumer_peak = consumer_base;
  std::uint64_t worker_peak = worker_base;
  std::int64_t lag_peak = 0;
  const auto sample = [&](std::uint64_t produced) {
    consumer_peak = std::max(consumer_peak, rss_kib(consumers[0]));
    worker_peak = std::max(worker_peak, rss_kib(workers[0]));
    lag_peak = std::max(lag_peak, static_cast<std::int64_t>(produced) - committed_sum(broker.bootstrap(), "lambda-s"));
  };

  LoadProducer producer(broker.bootstrap(), {.partitions = load.partitions,
                                             .per_batch = load.per_batch,
                                             .every = load.every,
                                             .value_bytes = kValueBytes});
  // Bound on what the consumer may grow by: the fetch queue, one fetch, the ring, and
  // allocator slack. The premise of the test is a backlog far larger than that; on a
  // loaded machine the producer is slower, so the input goes on (past load.records if it
  // must) until the backlog is twice the bound, instead of hoping it gets there.
  const std::uint64_t bound_kib = kQueuedKiB + 1024 + kRingBytes / 1024 + 14 * 1024;
  const auto backlog_kib = [&] { return static_cast<std::uint64_t>(std::max<std::int64_t>(lag_peak, 0)) * kValueBytes / 1024; };
  const bool all_in = wait_until(
      [&] {
        sample(producer.produced());
        return producer.produced() >= load.records && backlog_kib() > 2 * bound_kib;
      },
      300s);
  const std::uint64_t produced = producer.finish();
  ASSERT_EQ(producer.error(), "");
  ASSERT_TRUE(all_in) << produced << " records produced in 300 s (at least " << load.records
                      << " wanted) left a backlog of " << backlog_kib() << " KiB, not over twice the bound ("
                      << bound_kib << " KiB): the handler kept up with the input";
  const auto drain_limit = soak() ? 1200s : 180s;
  ASSERT_TRUE(wait_until(
      [&] {
        sample(produced);
        return committed_or_empty(broker.bootstrap(), "lambda-s") == end_offsets(produced, load.partitions);
      },
      drain_limit))
      << "the lag did not recover within " << drain_limit.count() << " s\n"
      << d.log();

  std::cout << "[ slow handler ] " << produced << " records of " << kValueBytes << " B, peak lag " << lag_peak
            << " records; consumer RSS " << consumer_base << " -> peak " << consumer_peak << " KiB, worker RSS "
            << worker_base << " -> peak " << worker_peak << " KiB\n";
  // ASan's quarantine keeps freed memory resident: RSS says nothing there.
  if (!targets().asan) {
    EXPECT_LT(consumer_peak - consumer_base, bound_kib) << "the consumer's memory grew with the backlog";
    EXPECT_LT(worker_peak - worker_base, kRingBytes / 1024 + 8 * 1024) << "the worker's memory grew with the backlog";
  }
  // Never evicted: one assignment, no revoke, no lost assignment.
  const std::string log = d.log();
  EXPECT_EQ(count_of(log, "lambda s: assigned"), 1U) << log;
  EXPECT_EQ(count_of(log, "lambda s: revoked"), 0U) << log;
  EXPECT_EQ(log.find("max.poll.interval"), std::string::npos) << log;
  const auto out = read_outcomes(outcomes(), "s");
  EXPECT_EQ(check_no_loss(out, produced), "");
  EXPECT_EQ(check_commit_safety(out, committed_offsets(broker.bootstrap(), "lambda-s", "events")), "");
  EXPECT_EQ(count_duplicates(out), 0U);
  expect_clean_stop(d);
}

}  // namespace
}  // namespace sluice::test
