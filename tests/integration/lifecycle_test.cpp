// The daemon's life and its processes' lives (fault scenarios 10, 15, 16, 17, 18,
// 19): handlers that cannot start or run out of memory, start-up resource errors, stop
// signals to the whole group and twice, a drain deadline shorter than a handler, two
// daemons in one group, and names in /dev/shm that are not ours.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <set>

#include "daemon_test.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 8;

// I6: each partition's commit is one past the last record handled, and nothing beyond it
// was handled.
void expect_committed_equals_position(const std::vector<Outcome>& out, const std::map<int, std::int64_t>& committed) {
  std::map<int, std::int64_t> last;
  for (const auto& o : out) last[o.partition] = std::max(last.contains(o.partition) ? last[o.partition] : -1, o.offset);
  for (int p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(committed.at(p), last.contains(p) ? last[p] + 1 : -1) << "partition " << p;
  }
}

class Lifecycle : public DaemonTest {
 protected:
};

// Scenario 19, and 17's "one failing lambda never stops others".
TEST_F(Lifecycle, HandlerThatCannotStartBacksOffThenFailsItsLambdaWhileOthersRun) {
  constexpr std::uint64_t kMessages = 5000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  const std::string cfg = with(daemon_config(instance, dir.path(), broker.bootstrap(),
                                             {{.name = "bad", .topic = "events", .workers = 1, .options = "init_fail = \"1\"\n"},
                                              {.name = "good", .topic = "events", .workers = 2}}),
                               "max_restarts = 100", "max_restarts = 100\nstart_attempts = 6");
  Daemon d(dir.path(), cfg);
  ASSERT_TRUE(wait_until([&] { return d.log().find("lambda bad: cannot start: 6 start(s) in a row ended before the process was up") != std::string::npos; }, 60s))
      << d.log();
  std::vector<Outcome> out;
  ASSERT_NO_FATAL_FAILURE(out = expect_delivered(broker.bootstrap(), d, "good", kMessages, kPartitions, 120s));
  EXPECT_TRUE(read_outcomes(outcomes(), "bad").empty());
  const std::string log = d.log();
  // No busy loop: exactly start_attempts starts failed, each after a backoff, and the
  // failed lambda is left alone from then on.
  EXPECT_EQ(count_of(log, "lambda bad: worker 0 ended: worker exited with status 1"), 6U) << log;
  EXPECT_EQ(count_of(log, "lambda bad: restarting worker 0"), 5U) << log;
  EXPECT_NE(log.find("init failed with status 4"), std::string::npos) << "the handler's own error must be logged\n"
                                                                     << log;
  EXPECT_EQ(committed_sum(broker.bootstrap(), "lambda-bad"), 0) << "a lambda without a handler must not commit";
  expect_clean_stop(d);
}

// Scenario 17: start-up resource errors are specific, non-zero, and leave nothing behind.
TEST_F(Lifecycle, StartupResourceErrorsAreSpecificAndLeaveNothingBehind) {
  const std::string bs = "127.0.0.1:1";  // never reached: these fail before any consumer
  {
    SCOPED_TRACE("memory cannot hold the segment");
    // 256 workers x 1 GiB rings is more memory than this machine has: refused up front,
    // instead of a child taking SIGBUS later or the OOM killer choosing a process.
    Daemon d(dir.path(),
             daemon_config(instance, dir.path(), bs,
                           {{.name = "huge", .topic = "events", .workers = 256, .extra = "ring_bytes = 1073741824\n"}}),
             "shm");
    const auto st = d.wait_exit(30s);
    ASSERT_TRUE(st.has_value()) << d.log();
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 1) << *st << "\n" << d.log();
    EXPECT_NE(d.log().find("cannot reserve"), std::string::npos) << d.log();
    EXPECT_NE(d.log().find("bytes of shared memory for sluice." + instance + ".huge: only"), std::string::npos) << d.log();
    EXPECT_EQ(check_hygiene(instance), "");
  }
  {
    SCOPED_TRACE("open files limit too low to raise");
    Daemon d(dir.path(), daemon_config(instance, dir.path(), bs, {{.name = "x", .topic = "events", .workers = 1}}),
             "nofile", {}, {.nofile = std::make_pair(64, 64)});
    const auto st = d.wait_exit(30s);
    ASSERT_TRUE(st.has_value()) << d.log();
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 1) << *st << "\n" << d.log();
    EXPECT_NE(d.log().find("the open files limit (RLIMIT_NOFILE) is 64 and cannot be raised; sluice needs at least 256"),
              std::string::npos)
        << d.log();
    EXPECT_EQ(check_hygiene(instance), "");
  }
  {
    SCOPED_TRACE("a low soft limit under a high hard limit is raised");
    Daemon d(dir.path(), daemon_config(instance, dir.path(), bs, {{.name = "x", .topic = "events", .workers = 1}}),
             "raised", {}, {.nofile = std::make_pair(64, 4096)});
    ASSERT_TRUE(wait_until([&] { return !d.children("worker").empty(); }, 30s)) << d.log();
    // Children inherit the raised limit: "Max open files  <soft>  <hard>  files".
    std::istringstream limits(read_proc_file("/proc/" + std::to_string(d.children("worker").front()) + "/limits"));
    std::string line, soft, hard;
    while (std::getline(limits, line)) {
      if (line.starts_with("Max open files")) std::istringstream(line.substr(14)) >> soft >> hard;
    }
    EXPECT_EQ(soft, "4096");
    EXPECT_EQ(hard, "4096");
    expect_clean_stop(d);
  }
}

// Scenario 16: SIGTERM to every process of the group at once (as Ctrl-C or `pkill`
// would), then a second SIGTERM during the drain: one orderly stop, I6.
TEST_F(Lifecycle, SigtermToTheWholeProcessGroupAndAgainStopsOnceAndCommitsExactly) {
  constexpr std::uint64_t kMessages = 5000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  // 20 ms handlers and 50 records in flight per partition: the drain takes seconds, so
  // the second SIGTERM lands inside it.
  const std::string cfg = daemon_config(instance, dir.path(), broker.bootstrap(),
                                        {{.name = "g", .topic = "events", .workers = 3, .sleep_us = 20'000,
                                          .extra = "max_in_flight = 50\n"}});
  {
    Daemon d(dir.path(), cfg, "first", {}, {.own_process_group = true});
    ASSERT_TRUE(wait_until([&] { return committed_sum(broker.bootstrap(), "lambda-g") > 200; }, 120s)) << d.log();
    ASSERT_EQ(::kill(-d.pid(), SIGTERM), 0) << "kill of the process group";
    ASSERT_TRUE(wait_until([&] { return d.log().find("lambda g: stopping: draining") != std::string::npos; }, 30s))
        << d.log();
    d.signal(SIGTERM);
    const auto st = d.wait_exit(60s);
    ASSERT_TRUE(st.has_value()) << d.log();
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st << "\n" << d.log();
    EXPECT_NE(d.log().find("received SIGTERM again: already draining"), std::string::npos) << d.log();
    EXPECT_EQ(d.log().find("ended:"), std::string::npos) << "a child stopped on its own instead of by the supervisor\n"
                                                         << d.log();
    EXPECT_EQ(check_hygiene(instance), "");
    EXPECT_EQ(sanitizer_report(d.log()), "");
  }
  auto out = read_outcomes(outcomes(), "g");
  ASSERT_LT(out.size(), kMessages) << "stopped too late to be under load";
  expect_committed_equals_position(out, committed_offsets(broker.bootstrap(), "lambda-g", "events"));
  EXPECT_EQ(count_duplicates(out), 0U);

  Daemon again(dir.path(), with(cfg, "sleep_us = \"20000\"", "sleep_us = \"0\""), "second");
  ASSERT_NO_FATAL_FAILURE(out = expect_delivered(broker.bootstrap(), again, "g", kMessages, kPartitions, 180s));
  EXPECT_EQ(count_duplicates(out), 0U) << "a restart after a clean stop must not redeliver";
  expect_clean_stop(again);
}

// Scenario 16: handlers slower than the drain deadline. The daemon still stops within
// shutdown_timeout_ms, commits only what completed, and the next run redelivers exactly
// the unfinished records.
TEST_F(Lifecycle, HandlerSlowerThanTheDrainDeadlineStopsInTimeAndRedeliversOnlyTheUnfinished) {
  constexpr std::uint64_t kMessages = 800;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  auto slow = daemon_config(instance, dir.path(), broker.bootstrap(),
                            {{.name = "s", .topic = "events", .workers = 2, .sleep_us = 1'500'000,
                              .extra = "drain_timeout_ms = 500\n"}});
  slow = with(with(slow, "shutdown_timeout_ms = 30000", "shutdown_timeout_ms = 4000"), "drain_timeout_ms = 20000\n", "");
  {
    Daemon d(dir.path(), slow, "slow");
    // Both workers are inside a 1.5 s handler call once each has logged one record.
    ASSERT_TRUE(wait_until([&] { return read_outcomes(outcomes(), "s").size() >= 2; }, 60s)) << d.log();
    const auto asked = std::chrono::steady_clock::now();
    d.signal(SIGTERM);
    const auto st = d.wait_exit(30s);
    ASSERT_TRUE(st.has_value()) << d.log();
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st << "\n" << d.log();
    // Bounded by shutdown_timeout_ms plus process exit, not by the handlers.
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 15s) << d.log();
    EXPECT_NE(d.log().find("drain deadline (500 ms) passed"), std::string::npos) << d.log();
    EXPECT_EQ(check_hygiene(instance), "");
  }
  const auto committed = committed_offsets(broker.bootstrap(), "lambda-s", "events");
  auto out = read_outcomes(outcomes(), "s");
  EXPECT_EQ(check_commit_safety(out, committed), "");

  auto fast = with(slow, "sleep_us = \"1500000\"", "sleep_us = \"0\"");
  Daemon again(dir.path(), fast, "fast");
  ASSERT_NO_FATAL_FAILURE(out = expect_delivered(broker.bootstrap(), again, "s", kMessages, kPartitions, 120s));
  // I3: repeats only at or above the commit made at the stop, at most one per worker
  // (the record each was inside when the deadline passed).
  std::set<std::pair<int, std::int64_t>> seen;
  std::size_t repeats = 0;
  for (const auto& o : out) {
    if (!seen.emplace(o.partition, o.offset).second) {
      ++repeats;
      EXPECT_GE(o.offset, committed.at(o.partition)) << "partition " << o.partition << " redelivered a committed offset";
    }
  }
  EXPECT_LE(repeats, 2U);
  expect_clean_stop(again);
}

// Scenario 18: two daemons, different instances, one group: the partitions split, the
// segments do not collide, and when one is killed the other takes over everything.
TEST_F(Lifecycle, TwoDaemonsSplitAGroupAndOneTakesOverWhenTheOtherIsKilled) {
  constexpr std::uint64_t kMessages = 40'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  TempDir dir_b;
  const std::string instance_b = instance + "b";
  const std::string cfg_a =
      daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "x", .topic = "events", .workers = 2, .sleep_us = 200}});
  const std::string cfg_b =
      daemon_config(instance_b, dir_b.path(), broker.bootstrap(), {{.name = "x", .topic = "events", .workers = 2, .sleep_us = 200}});
  auto a = std::make_unique<Daemon>(dir.path(), cfg_a, "a");
  Daemon b(dir_b.path(), cfg_b, "b");
  // Both handle records: the group split the partitions between them.
  ASSERT_TRUE(wait_until([&] {
    return !read_outcomes(outcomes(), "x").empty() && !read_outcomes(dir_b.path() / "outcomes", "x").empty();
  }, 60s)) << a->log() << "\n----\n" << b.log();
  // Same lambda name, two daemons: each consumer maps its own daemon's memory.
  for (const auto& [d, inst] : {std::pair<Daemon*, std::string>{a.get(), instance}, {&b, instance_b}}) {
    const auto consumers = d->children("consumer");
    ASSERT_EQ(consumers.size(), 1U);
    const std::string maps = read_proc_file("/proc/" + std::to_string(consumers[0]) + "/maps");
    EXPECT_NE(maps.find("/memfd:sluice." + inst + ".x "), std::string::npos) << maps;
  }

  const auto before = committed_or_empty(broker.bootstrap(), "lambda-x");
  a->signal(SIGKILL);
  ASSERT_TRUE(a->wait_exit(10s).has_value());
  // How far each of b's worker logs was at the kill; later lines are the takeover.
  std::map<std::string, std::size_t> b_lines_at_kill;
  for (const auto& o : read_outcomes(dir_b.path() / "outcomes", "x")) ++b_lines_at_kill[o.file];
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-x", kMessages, kPartitions); }, 180s))
      << b.log();
  auto out = read_outcomes(outcomes(), "x");
  const auto out_b = read_outcomes(dir_b.path() / "outcomes", "x");
  // I3 for the kill: a record b handles after the kill that was handled before it lies at
  // or above the offset committed before the kill. (Repeats from the rebalance when b
  // joined are scenario 4's business.)
  std::set<std::pair<int, std::int64_t>> handled_by_a;
  for (const auto& o : out) handled_by_a.emplace(o.partition, o.offset);
  std::size_t taken_over = 0;
  std::map<std::string, std::size_t> line_of;
  for (const auto& o : out_b) {
    if (line_of[o.file]++ < b_lines_at_kill[o.file]) continue;
    if (handled_by_a.contains({o.partition, o.offset})) {
      ++taken_over;
      EXPECT_GE(o.offset, before.contains(o.partition) ? before.at(o.partition) : 0)
          << "partition " << o.partition << " redelivered an offset committed before the kill";
    }
  }
  out.insert(out.end(), out_b.begin(), out_b.end());
  EXPECT_EQ(check_no_loss(out, kMessages), "");
  EXPECT_EQ(check_commit_safety(out, committed_offsets(broker.bootstrap(), "lambda-x", "events")), "");
  std::cout << "[ info ] records of the killed daemon handled again by the survivor: " << taken_over << "\n";
  expect_clean_stop(b, instance_b);
  // Nothing of the killed daemon is left to reclaim: its memory went with its processes.
  EXPECT_EQ(check_hygiene(instance), "");
  a = std::make_unique<Daemon>(dir.path(), cfg_a, "a2");
  ASSERT_TRUE(wait_until([&] { return !a->children("consumer").empty(); }, 30s)) << a->log();
  expect_clean_stop(*a);
}

// Scenario 15: nothing in /dev/shm is ours, so what another run (or another user) left
// there under our names is neither used nor touched; a hundred worker restarts leak no
// fd, process or memory.
TEST_F(Lifecycle, NamesInDevShmAreNotOursAndAHundredRestartsLeakNothing) {
  const std::string squatted = "/dev/shm/sluice." + instance + ".x";
  std::ofstream(squatted) << "someone else's file under the old segment name";

  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, 2000);
  const std::string cfg =
      with(with(daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "x", .topic = "events", .workers = 2}}),
                "max_restarts = 100", "max_restarts = 1000"),
           "restart_backoff_max_ms = 1000", "restart_backoff_max_ms = 60");
  Daemon d(dir.path(), cfg);
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-x", 2000, kPartitions); }, 120s))
      << d.log();
  EXPECT_EQ(read_proc_file(squatted), "someone else's file under the old segment name");
  fs::remove(squatted);

  const std::size_t fds = d.open_fds();
  for (int i = 0; i < 100; ++i) {
    const auto workers = d.children("worker");
    ASSERT_EQ(workers.size(), 2U) << "round " << i << "\n" << d.log();
    ::kill(workers[static_cast<std::size_t>(i) % 2], SIGKILL);
    ASSERT_TRUE(wait_until([&] {
      const auto now = d.children("worker");
      return now.size() == 2 && now != workers;
    }, 30s)) << "round " << i << ": the worker was not restarted\n" << d.log();
    // Killed before it is up, a worker is a failed start, and start_attempts of those in a
    // row fail the lambda; under AddressSanitizer a start can outlast a round. Each kill
    // here is of a worker that was running.
    ASSERT_TRUE(wait_until([&] { return lambda_state(dir.path(), instance, "x") == "running"; }, 30s))
        << "round " << i << ": the restarted worker never came up\n" << d.log();
  }
  produce(broker.bootstrap(), "events", kPartitions, 2000, 2000);
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-x", 4000, kPartitions); }, 120s))
      << d.log();
  EXPECT_EQ(check_no_loss(read_outcomes(outcomes(), "x"), 4000), "");
  EXPECT_EQ(d.open_fds(), fds) << "the supervisor leaked file descriptors over 100 restarts";
  EXPECT_EQ(d.zombie_children(), 0U);
  EXPECT_EQ(count_of(d.log(), "lambda x: restarting worker"), 100U);
  expect_clean_stop(d);
}

// Scenario 10: a handler that runs out of memory under memory_limit_mb is a crash like
// any other: its worker is restarted, the attempt counts, and after max_attempts the
// record is dead-lettered with how the worker ended; the rest flows.
TEST_F(Lifecycle, HandlerOutOfMemoryIsACrashThatCountsAndIsDeadLettered) {
  if (targets().asan) GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: RLIMIT_AS cannot apply";
  constexpr std::uint64_t kMessages = 2000;
  DevBroker broker({"events:8", "events.dlq:1"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "m", .topic = "events", .workers = 2,
                                       .extra = "dead_letter_topic = \"events.dlq\"\nmax_attempts = 2\nretry_backoff_ms = [1, 5]\n",
                                       .handler_extra = "memory_limit_mb = 512\n",
                                       .options = "oom_seqs = \"123\"\n"}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-m", kMessages, kPartitions); }, 120s))
      << d.log();
  const auto dlq = read_topic(broker.bootstrap(), "events.dlq", 1, 30s);
  ASSERT_EQ(dlq.size(), 1U) << d.log();
  EXPECT_EQ(dlq[0].headers.at("seq"), "123");
  EXPECT_EQ(dlq[0].headers.at("sluice-error"), "worker killed by SIGABRT");
  EXPECT_EQ(dlq[0].headers.at("sluice-attempts"), "2");
  const auto out = read_outcomes(outcomes(), "m");
  std::set<std::uint64_t> ok;
  for (const auto& o : out) {
    if (o.outcome == "ok") ok.insert(std::stoull(o.value.substr(1)));
  }
  for (std::uint64_t s = 0; s < kMessages; ++s) {
    if (s != 123) {
      EXPECT_TRUE(ok.contains(s)) << "seq " << s << " never handled";
    }
  }
  EXPECT_EQ(check_commit_safety(out, committed_offsets(broker.bootstrap(), "lambda-m", "events"),
                                {{static_cast<int>(123 % kPartitions), static_cast<std::int64_t>(123 / kPartitions)}}),
            "");
  // Each attempt ended its worker, and each was restarted.
  EXPECT_EQ(count_of(d.log(), "lambda m: worker"), 2U) << d.log();
  EXPECT_EQ(count_of(d.log(), "lambda m: restarting worker"), 2U) << d.log();
  expect_clean_stop(d);
}

}  // namespace
}  // namespace sluice::test
