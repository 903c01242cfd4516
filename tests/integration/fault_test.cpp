// Broker-side fault scenarios, injected through `sluice dev-broker`'s control
// channel, and group membership changes; each test checks the oracle.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "daemon_test.hpp"
#include "metrics_text.hpp"
#include "kafka/group_offsets.hpp"
#include "kafka/kafka_handles.hpp"
#include "kafka/watermarks.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 8;

// Polls a group_member() until it holds a partition: the first one's number, or -1 after
// `limit`.
int first_partition_of(rd_kafka_t* member, std::chrono::seconds limit) {
  int held_first = -1;
  wait_until(
      [&] {
        if (rd_kafka_message_t* m = rd_kafka_consumer_poll(member, 100)) rd_kafka_message_destroy(m);
        rd_kafka_topic_partition_list_t* held = nullptr;
        if (rd_kafka_assignment(member, &held) == RD_KAFKA_RESP_ERR_NO_ERROR && held != nullptr) {
          if (held->cnt > 0) held_first = held->elems[0].partition;
          rd_kafka_topic_partition_list_destroy(held);
        }
        return held_first >= 0;
      },
      limit);
  return held_first;
}

class Fault : public DaemonTest {
 protected:
  // I1 and I2 once everything is committed.
  void expect_oracle(const std::string& bs, const std::string& name, std::uint64_t produced) {
    const auto out = read_outcomes(outcomes(), name);
    EXPECT_EQ(check_no_loss(out, produced), "");
    EXPECT_EQ(check_commit_safety(out, committed_offsets(bs, "lambda-" + name, "events")), "");
  }
};

// Scenario 2: OffsetCommit fails in three ways; a failed commit is never taken as done,
// and everything is consumed after the reassignment ILLEGAL_GENERATION forces.
TEST_F(Fault, FailedCommitsAreRetriedAndNeverTakenAsDone) {
  constexpr std::uint64_t kMessages = 20'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "oc", .topic = "events", .workers = 2, .sleep_us = 500}}));
  ASSERT_TRUE(wait_until([&] { return committed_sum(broker.bootstrap(), "lambda-oc") > 1000; }, 120s)) << d.log();
  // Each step waits for its effect while records are still flowing, so commits are being
  // sent when the errors are armed. REQUEST_TIMED_OUT is retried inside librdkafka;
  // REBALANCE_IN_PROGRESS reaches the commit callback and is not taken as done;
  // ILLEGAL_GENERATION loses the assignment, which comes back after a rejoin.
  ASSERT_EQ(broker.control("errors OffsetCommit REQUEST_TIMED_OUT 2"), "ok");
  ASSERT_EQ(broker.control("errors OffsetCommit REBALANCE_IN_PROGRESS 6"), "ok");
  ASSERT_TRUE(wait_until([&] { return d.log().find("failed: Broker: Group rebalance in progress") != std::string::npos; }, 60s))
      << d.log();
  ASSERT_EQ(broker.control("errors OffsetCommit ILLEGAL_GENERATION 5"), "ok");
  ASSERT_TRUE(wait_until([&] { return d.log().find("assignment lost") != std::string::npos; }, 60s)) << d.log();
  ASSERT_LT(committed_sum(broker.bootstrap(), "lambda-oc"), static_cast<std::int64_t>(kMessages))
      << "the faults came too late to matter";
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-oc", kMessages, kPartitions); }, 180s))
      << d.log();
  expect_oracle(broker.bootstrap(), "oc", kMessages);
  expect_clean_stop(d, instance);
}

// Scenario 3: coordinator errors on Heartbeat and FindCoordinator never reach a handler.
TEST_F(Fault, CoordinatorErrorsNeverReachAHandler) {
  constexpr std::uint64_t kMessages = 20'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  ASSERT_EQ(broker.control("errors FindCoordinator COORDINATOR_LOAD_IN_PROGRESS 4"), "ok");
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "co", .topic = "events", .workers = 2, .sleep_us = 100}}));
  ASSERT_TRUE(wait_until([&] { return committed_sum(broker.bootstrap(), "lambda-co") > 2000; }, 120s)) << d.log();
  ASSERT_EQ(broker.control("errors Heartbeat NOT_COORDINATOR 3"), "ok");
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-co", kMessages, kPartitions); }, 180s))
      << d.log();
  const auto out = read_outcomes(outcomes(), "co");
  for (const auto& o : out) ASSERT_EQ(o.outcome, "ok") << "a broker error reached a handler";
  expect_oracle(broker.bootstrap(), "co", kMessages);
  expect_clean_stop(d, instance);
}

// Scenario 1: the only broker goes down, for 2 s and (a run of its own) for longer than
// the session timeout, then comes back; nothing is lost and everything is committed.
class BrokerDown : public Fault, public ::testing::WithParamInterface<std::chrono::seconds> {};

TEST_P(BrokerDown, LosesNothingAndCommitsEverythingOnceItIsBack) {
  constexpr std::uint64_t kMessages = 30'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "bd", .topic = "events", .workers = 2, .sleep_us = 100}}));
  ASSERT_TRUE(wait_until([&] { return committed_sum(broker.bootstrap(), "lambda-bd") > 3000; }, 120s)) << d.log();
  ASSERT_LT(committed_sum(broker.bootstrap(), "lambda-bd"), static_cast<std::int64_t>(kMessages))
      << "everything was committed before the outage";
  ASSERT_EQ(broker.control("down 1"), "ok");
  std::this_thread::sleep_for(GetParam());  // the fault's duration, not a synchronisation
  ASSERT_EQ(broker.control("up 1"), "ok");
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-bd", kMessages, kPartitions); }, 180s))
      << d.log();
  expect_oracle(broker.bootstrap(), "bd", kMessages);
  expect_clean_stop(d, instance);
}

// session.timeout.ms is 6 s in the test config.
INSTANTIATE_TEST_SUITE_P(Fault, BrokerDown, ::testing::Values(2s, 8s),
                         [](const ::testing::TestParamInfo<std::chrono::seconds>& i) {
                           return i.param < 6s ? std::string("ShorterThanTheSessionTimeout")
                                               : std::string("LongerThanTheSessionTimeout");
                         });

// The consumer asks for watermarks when a log is cut under it and nudges a leader when a
// partition resumes; neither may hold its loop for longer than its timeout while the
// leader is unreachable (librdkafka's rd_kafka_query_watermark_offsets did, for minutes).
TEST_F(Fault, WatermarkQueriesGiveUpAtTheirTimeoutWhileTheLeaderIsDown) {
  constexpr std::uint64_t kMessages = 1'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  auto rk = kafka::make_client(
      RD_KAFKA_CONSUMER, kafka::make_conf({{"bootstrap.servers", broker.bootstrap()}, {"group.id", "wm"}, {"log_level", "3"}}));
  std::vector<kafka::Watermarks> marks;
  for (int p = 0; p < kPartitions; ++p) marks.push_back({"events", p});
  ASSERT_EQ(kafka::query_watermarks(rk.get(), marks, 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto ends = end_offsets(kMessages, kPartitions);
  for (const auto& m : marks) {
    EXPECT_EQ(m.low, 0) << m.partition;
    EXPECT_EQ(m.high, ends.at(m.partition)) << m.partition;
  }

  ASSERT_EQ(broker.control("down 1"), "ok");
  auto query = std::async(std::launch::async, [&] {
    auto again = marks;
    return kafka::query_watermarks(rk.get(), again, 300);
  });
  ASSERT_EQ(query.wait_for(30s), std::future_status::ready) << "query_watermarks(300 ms) still waiting after 30 s";
  EXPECT_NE(query.get(), RD_KAFKA_RESP_ERR_NO_ERROR) << "answered by a broker that is down";
  auto nudge = std::async(std::launch::async, [&] { kafka::nudge_leader(rk.get(), "events", 0); });
  ASSERT_EQ(nudge.wait_for(30s), std::future_status::ready) << "nudge_leader waited for an answer";
  ASSERT_EQ(broker.control("up 1"), "ok");
}

// Scenario 4: a second member joins mid-processing. The first member drains and commits
// the partitions it gives up before its revoke completes (a graceful cooperative revoke,
// not a lost assignment), and the new owner starts from those commits.
//
// librdkafka 2.0.2's mock cluster refuses every OffsetCommit with REBALANCE_IN_PROGRESS
// for the whole join phase (session.timeout.ms - 1 s here), where a broker implementing
// KIP-429 accepts commits of the current generation while a rebalance is prepared. So
// records the first member finished inside that window are delivered again: the test
// checks that every repeat lies at or above the offset committed before the join (I3)
// and that nothing is lost or committed past an unhandled record (I1, I2).
TEST_F(Fault, SecondMemberJoiningTakesOverFromTheCommittedOffsets) {
  constexpr std::uint64_t kMessages = 40'000;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kMessages);
  const std::string second_instance = instance + "b";
  const LambdaSpec spec{.name = "j", .topic = "events", .workers = 2, .sleep_us = 200};
  Daemon first(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {spec}), "first");
  ASSERT_TRUE(wait_until([&] { return committed_sum(broker.bootstrap(), "lambda-j") > 2000; }, 120s)) << first.log();
  const auto before_join = committed_or_empty(broker.bootstrap(), "lambda-j");
  Daemon second(dir.path(), daemon_config(second_instance, dir.path(), broker.bootstrap(), {spec}), "second");
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-j", kMessages, kPartitions); }, 240s))
      << first.log() << second.log();
  const auto out = read_outcomes(outcomes(), "j");
  EXPECT_EQ(check_no_loss(out, kMessages), "");
  EXPECT_EQ(check_commit_safety(out, committed_offsets(broker.bootstrap(), "lambda-j", "events")), "");
  std::set<std::pair<int, std::int64_t>> seen;
  for (const auto& o : out) {
    if (!seen.emplace(o.partition, o.offset).second) {
      ASSERT_GE(o.offset, before_join.at(o.partition)) << "partition " << o.partition << " redelivered a committed offset";
    }
  }
  EXPECT_NE(first.log().find("lambda j: revoked 4 partition(s)\n"), std::string::npos)
      << "expected a graceful revoke of half the partitions\n"
      << first.log();
  EXPECT_EQ(first.log().find("assignment lost"), std::string::npos) << first.log();
  expect_clean_stop(second, second_instance);
  expect_clean_stop(first, instance);
}


// A partition sluice had paused (here: stopped by on_failure = "stop"; a full ring pauses
// the same way) was never fetched again after it moved to another member and came back:
// librdkafka keeps an application's pause on the partition across a revoke and a new
// assignment, while the consumer's new record of it said "not paused". Nothing was
// logged, and the partition's records waited for ever. Now every partition is resumed in
// librdkafka before it is assigned.
TEST_F(Fault, APausedPartitionThatMovesAwayAndBackIsFetchedAgain) {
  constexpr int kTwo = 2;
  DevBroker broker({"events:2"});
  const std::string bs = broker.bootstrap();
  produce(bs, "events", kTwo, 0, 20);  // seq 4 is events[0]@2, seq 5 events[1]@2
  Daemon d(dir.path(), daemon_config(instance, dir.path(), bs,
                                     {{.name = "s", .topic = "events", .workers = 1, .extra = "max_attempts = 1\n",
                                       .options = "fail_seqs = \"4,5\"\n"}}));
  auto attempts_of = [&](std::uint64_t seq) {
    std::size_t n = 0;
    for (const auto& o : read_outcomes(outcomes(), "s")) n += seq_of(o.value) == seq ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(wait_until([&] { return count_of(d.log(), "partition stopped (on_failure=stop)") == 2; }, 60s)) << d.log();
  ASSERT_EQ(attempts_of(4), 1U);
  ASSERT_EQ(attempts_of(5), 1U);

  // A second member of the group takes one of the two paused partitions, and leaves
  // without committing: the partition goes back to sluice.
  auto member = group_member(bs, "lambda-s", "events");
  const int moved = first_partition_of(member.get(), 60s);
  ASSERT_GE(moved, 0) << "the member was given no partition\n" << d.log();
  rd_kafka_consumer_close(member.get());
  const std::uint64_t seq = moved == 0 ? 4 : 5;
  ASSERT_TRUE(wait_until([&] { return attempts_of(seq) == 2; }, 60s))
      << "events[" << moved << "] came back and was never fetched again\n" << d.log();
  EXPECT_EQ(attempts_of(moved == 0 ? 5 : 4), 1U) << "the partition that stayed is still stopped";
  expect_clean_stop(d);
}

// A graceful revoke waits (up to drain_timeout_ms) for the revoked partitions' records in
// flight, so their offsets are committed before the next owner starts. That wait left the
// consumer's heartbeat at the start of the loop pass it interrupted: a drain longer than
// consumer_stall_s had the supervisor kill a consumer that was doing its job, and the
// record it waited for was handled again by the partition's next owner.
TEST_F(Fault, ARevokeThatWaitsForASlowHandlerIsNotTakenForAStalledConsumer) {
  constexpr int kStallS = 5;
  // Each attempt is a fresh broker and daemon; another only when the mock cluster, not
  // sluice, refused the revoke's commit (group_member(): the follower's SyncGroup lost
  // its race with the leader's and the group went back to rebalancing).
  for (int attempt = 1;; ++attempt) {
    DevBroker broker({"events:2"});
    const std::string bs = broker.bootstrap();
    produce(bs, "events", 2, 0, 2);  // one record per partition, one worker each
    // The handlers hold their records until the test takes the gate away.
    const fs::path gate = dir.path() / "gate";
    std::ofstream(gate) << "held\n";
    std::string config = daemon_config(
        instance, dir.path(), bs,
        {{.name = "v", .topic = "events", .workers = 2, .handler_extra = "timeout_ms = 120000",
          .options = "hold_while = \"" + gate.string() + "\""}});
    config = with(config, "[supervisor]\n", "[supervisor]\nconsumer_stall_s = " + std::to_string(kStallS) + "\n");
    Daemon d(dir.path(), config, "run" + std::to_string(attempt));  // a log of its own
    auto metric = [&](const std::string& name) { return sample(admin(dir.path(), instance, "GET", "/metrics").body, name); };
    ASSERT_TRUE(wait_until([&] { return metric("sluice_records_in_flight{lambda=\"v\"}") == 2; }, 60s)) << d.log();
    auto consumer = [&] {
      for (pid_t p : d.children("--lambda v ")) {
        if (read_proc_file("/proc/" + std::to_string(p) + "/cmdline").find("consumer") != std::string::npos) return p;
      }
      return pid_t{-1};
    };
    const pid_t before = consumer();
    ASSERT_GT(before, 0) << d.log();

    std::atomic<int> sync_refusals{0};
    auto member = group_member(bs, "lambda-v", "events", &sync_refusals);
    auto poll_member = [&] {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(member.get(), 100)) rd_kafka_message_destroy(m);
    };
    // The revoke has begun: its drain waits for the held record of the moved partition.
    ASSERT_TRUE(wait_until(
        [&] {
          poll_member();
          return metric("sluice_rebalances_total{lambda=\"v\",kind=\"revoke\"}") >= 1;
        },
        90s))
        << d.log();
    // The premise: a drain longer than consumer_stall_s (the supervisor looks every
    // 100 ms). This wait is the length of the drain, not a guess at when something is done.
    const auto drain_began = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - drain_began < std::chrono::seconds(kStallS + 2)) poll_member();
    EXPECT_EQ(d.log().find("made no progress"), std::string::npos) << d.log();
    EXPECT_EQ(consumer(), before) << "the consumer was replaced\n" << d.log();
    ASSERT_EQ(d.log().find("revoked 1 partition(s)"), std::string::npos) << "the drain did not wait\n" << d.log();
    const bool mock_refused = sync_refusals.load() > 0;
    fs::remove(gate);

    const int moved = first_partition_of(member.get(), 90s);
    ASSERT_GE(moved, 0) << "the member was given no partition\n" << d.log();
    EXPECT_EQ(consumer(), before) << "the consumer was replaced\n" << d.log();
    EXPECT_NE(d.log().find("lambda v: revoked 1 partition(s)\n"), std::string::npos) << d.log();
    // Read while the member holds the partition (the member commits nothing).
    const std::int64_t committed = committed_offsets(bs, "lambda-v", "events")[moved];
    rd_kafka_consumer_close(member.get());
    expect_clean_stop(d);
    // Up to 6: the refusal is a race the test cannot arrange to lose, and three refused
    // attempts in a row happened on a CI run (b5ecda0).
    if (mock_refused && attempt < 6) {
      std::cerr << "attempt " << attempt << ": the mock cluster refused the member's SyncGroup; again\n";
      continue;
    }
    ASSERT_FALSE(mock_refused) << "the mock cluster refused the member's SyncGroup in all " << attempt << " attempts";
    // The record the revoke waited for was committed before the partition moved.
    EXPECT_EQ(committed, 1) << d.log();
    return;
  }
}

// 1-based line of the first line of `text` that contains `what`.
int line_of(const std::string& text, const std::string& what) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(text.find(what)), '\n'));
}

// Scenario 13, the reload half: SIGHUP with a broken configuration (malformed TOML, an
// unknown key, a wrong type, a duplicate lambda, a missing handler) logs every error with
// file:line:col and keeps the running configuration: the same processes go on handling
// records, with the whole oracle holding. The admin API is off, so SIGHUP alone does it.
TEST_F(Fault, BadSighupReloadsKeepTheRunningConfig) {
  constexpr std::uint64_t kBatch = 1000;
  DevBroker broker({"events:8"});
  const std::string bs = broker.bootstrap();
  produce(bs, "events", kPartitions, 0, kBatch);
  std::string good = daemon_config(instance, dir.path(), bs, {{.name = "r", .topic = "events", .workers = 2}});
  good.replace(good.find("admin_listen = \"127.0.0.1:0\""), 28, "admin_listen = \"\"");
  Daemon d(dir.path(), good);
  const fs::path file = dir.path() / "run.toml";
  ASSERT_TRUE(wait_until([&] { return committed_to_end(bs, "lambda-r", kBatch, kPartitions); }, 120s)) << d.log();
  const auto processes = d.children("--segment-fd");
  ASSERT_EQ(processes.size(), 3U) << d.log();

  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    return s.replace(s.find(from), from.size(), to);
  };
  const std::string plugin_line = "path = \"" + targets().recorder_plugin + "\"";
  const std::string lambda_table = good.substr(good.find("[[lambda]]"));
  struct Bad {
    std::string what, text, expected;
  };
  const int lines = static_cast<int>(std::count(good.begin(), good.end(), '\n'));
  const auto at = [&](int line, int col) { return file.string() + ":" + std::to_string(line) + ":" + std::to_string(col) + ": "; };
  const std::vector<Bad> bad = {
      {"malformed TOML", good + "[[lambda]\n", at(lines + 1, 10) + "Error while parsing table header"},
      {"unknown key", "colour = \"red\"\n" + good, at(1, 1) + "colour: unknown key"},
      {"wrong type", replaced("shutdown_timeout_ms = 30000", "shutdown_timeout_ms = \"soon\""),
       at(line_of(good, "shutdown_timeout_ms"), 23) + "shutdown_timeout_ms: must be an integer"},
      {"duplicate lambda", good + lambda_table, at(lines + line_of(lambda_table, "name ="), 8) + "lambda.name: duplicate lambda \"r\""},
      {"missing handler", replaced(plugin_line, "path = \"/nonexistent/librecorder.so\""),
       at(line_of(good, plugin_line), 8) + "lambda[0].handler.path: \"/nonexistent/librecorder.so\": no such file"},
  };
  std::uint64_t produced = kBatch;
  for (std::size_t i = 0; i < bad.size(); ++i) {
    std::ofstream(file, std::ios::trunc) << bad[i].text;
    d.signal(SIGHUP);
    // The diagnostics are logged after the "keeping" line, each a line of its own: wait
    // for both rather than read the log between them.
    ASSERT_TRUE(wait_until([&] { return count_of(d.log(), "keeping the running configuration") == i + 1; }, 30s))
        << bad[i].what << "\n" << d.log();
    EXPECT_TRUE(wait_until([&] { return d.log().find(bad[i].expected) != std::string::npos; }, 30s))
        << bad[i].what << ": expected " << bad[i].expected << "\n" << d.log();
    produce(bs, "events", kPartitions, produced, kBatch);
    produced += kBatch;
    ASSERT_TRUE(wait_until([&] { return committed_to_end(bs, "lambda-r", produced, kPartitions); }, 120s))
        << bad[i].what << "\n" << d.log();
    EXPECT_EQ(d.children("--segment-fd"), processes) << bad[i].what << ": the running lambda was touched";
  }
  EXPECT_EQ(count_of(d.log(), "reload complete"), 0U) << d.log();
  expect_oracle(bs, "r", produced);
  std::ofstream(file, std::ios::trunc) << good;
  expect_clean_stop(d);
}

// Scenario 21: the log is truncated past the committed offset (the mock keeps 5 MiB per
// partition, so 6 MiB more pushes the committed records out). Each auto_offset_reset
// reports it and never skips silently: earliest resumes at the log start and counts the
// lost range, latest jumps to the end and counts what it passed, error stops the partition
// and commits nothing past it.
TEST_F(Fault, LogTruncatedPastTheCommittedOffsetIsReportedPerAutoOffsetReset) {
  DevBroker broker({"events:1"});
  const std::string bs = broker.bootstrap();
  produce(bs, "events", 1, 0, 100);
  auto lambda = [](const std::string& name, const std::string& policy) {
    return LambdaSpec{.name = name, .topic = "events", .workers = 1,
                      .extra = "auto_offset_reset = \"" + policy + "\"\n"};
  };
  // "strict" reaches offset 100 under earliest; the operator then switches it to error.
  const std::string first_cfg = daemon_config(
      instance, dir.path(), bs, {lambda("early", "earliest"), lambda("late", "latest"), lambda("strict", "earliest")});
  const std::string cfg = daemon_config(instance, dir.path(), bs,
                                        {lambda("early", "earliest"), lambda("late", "latest"), lambda("strict", "error"),
                                         lambda("fresh", "error")});
  auto committed_at = [&](const std::string& group) {
    try {
      const auto c = committed_offsets(bs, group, "events");
      return c.at(0);
    } catch (const std::exception&) {
      return std::int64_t{-2};
    }
  };
  {
    Daemon d(dir.path(), first_cfg, "first");
    for (const std::string name : {"early", "late", "strict"}) {
      ASSERT_TRUE(wait_until([&] { return committed_at("lambda-" + name) == 100; }, 60s)) << name << "\n" << d.log();
    }
    expect_clean_stop(d, instance);
  }
  EXPECT_TRUE(read_outcomes(outcomes(), "late").empty()) << "latest started before the existing records";
  // 60 x 100 KiB: the first 100 records and some of the big ones fall out of the log.
  produce(bs, "events", 1, 100, 60, 100 << 10);
  const auto offsets = kafka::group_offsets({{"bootstrap.servers", bs}}, "lambda-early", {"events"});
  ASSERT_EQ(offsets.size(), 1U);
  const std::int64_t lo = offsets[0].low;
  const std::int64_t hi = offsets[0].high;
  ASSERT_GT(lo, 100) << "the log was not truncated past the committed offset";
  ASSERT_EQ(hi, 160);

  Daemon d(dir.path(), cfg, "second");
  ASSERT_TRUE(wait_until([&] { return committed_at("lambda-early") == hi; }, 60s)) << d.log();
  ASSERT_TRUE(wait_until([&] { return committed_at("lambda-late") == hi; }, 60s)) << d.log();
  ASSERT_TRUE(wait_until([&] { return d.log().find("lambda strict: events[0]: offset 100 is out of range") != std::string::npos; },
                         30s))
      << d.log();
  const std::string log = d.log();
  const std::string range = "the log now holds offsets " + std::to_string(lo) + ".." + std::to_string(hi - 1);
  EXPECT_NE(log.find("lambda early: events[0]: offset 100 is out of range (" + range +
                     "); auto_offset_reset = \"earliest\": resuming at " + std::to_string(lo) + ", " +
                     std::to_string(lo - 100) + " record(s) never handled (offsets 100.." + std::to_string(lo - 1) + ")"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("lambda late: events[0]: offset 100 is out of range (" + range +
                     "); auto_offset_reset = \"latest\": resuming at 160, 60 record(s) never handled (offsets 100..159)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("auto_offset_reset = \"error\": partition stopped"), std::string::npos) << log;
  EXPECT_NE(log.find("lambda fresh: events[0] has no committed offset and auto_offset_reset = \"error\": not consuming it"),
            std::string::npos)
      << log;

  // earliest: every record still in the log handled, in order, exactly once.
  std::vector<std::int64_t> early;
  for (const auto& o : read_outcomes(outcomes(), "early")) {
    if (o.offset >= 100) early.push_back(o.offset);
  }
  std::vector<std::int64_t> want;
  for (std::int64_t o = lo; o < hi; ++o) want.push_back(o);
  EXPECT_EQ(early, want);
  for (const auto& o : read_outcomes(outcomes(), "late")) EXPECT_LT(o.offset, 100) << "latest handled a skipped record";
  for (const auto& o : read_outcomes(outcomes(), "strict")) EXPECT_LT(o.offset, 100) << "error policy skipped the gap";
  EXPECT_EQ(committed_at("lambda-strict"), 100) << "error policy must not commit past the gap";
  EXPECT_TRUE(read_outcomes(outcomes(), "fresh").empty());
  EXPECT_LT(committed_at("lambda-fresh"), 0) << "error policy without a position must not pick one";
  expect_clean_stop(d, instance);
}


// Scenario 22: the coordinator answers after 5 s for 30 s. Commits are slow; none is
// taken as done before the broker answered (I2 holds at every point we look), and the
// group is not broken up (no lost assignment, no duplicates).
TEST_F(Fault, SlowCoordinatorSlowsCommitsButNeverFakesThem) {
  constexpr std::uint64_t kMessages = 40'000;
  DevBroker broker({"events:8"}, 3);
  const std::string bs = broker.bootstrap();
  ASSERT_EQ(broker.control("coordinator group lambda-r 1"), "ok");
  produce(bs, "events", kPartitions, 0, kMessages);
  // A 5 s answer to each heartbeat fits a 15 s session, as a real deployment would set.
  std::string cfg = daemon_config(instance, dir.path(), bs, {{.name = "r", .topic = "events", .workers = 3, .sleep_us = 500}});
  const std::string session = "\"session.timeout.ms\" = \"6000\"";
  cfg.replace(cfg.find(session), session.size(), "\"session.timeout.ms\" = \"15000\"");
  Daemon d(dir.path(), cfg);
  ASSERT_TRUE(wait_until([&] { return committed_sum(bs, "lambda-r") > 1000; }, 60s)) << d.log();
  ASSERT_EQ(broker.control("rtt 1 5000"), "ok");
  const auto slow_until = std::chrono::steady_clock::now() + 30s;
  int looks = 0;
  while (std::chrono::steady_clock::now() < slow_until) {
    std::map<int, std::int64_t> c;
    try {
      c = committed_offsets(bs, "lambda-r", "events", 60000);  // each request answered 5 s late
    } catch (const std::exception&) {
      continue;
    }
    EXPECT_EQ(check_commit_safety(read_outcomes(outcomes(), "r"), c), "") << "look " << looks;
    ++looks;
  }
  ASSERT_EQ(broker.control("rtt 1 0"), "ok");
  EXPECT_GE(looks, 1) << "no committed offset could be read while the coordinator was slow";
  ASSERT_TRUE(wait_until([&] { return committed_to_end(bs, "lambda-r", kMessages, kPartitions); }, 180s)) << d.log();
  expect_oracle(bs, "r", kMessages);
  EXPECT_EQ(count_duplicates(read_outcomes(outcomes(), "r")), 0U) << d.log();
  EXPECT_EQ(d.log().find("assignment lost"), std::string::npos) << d.log();
  expect_clean_stop(d, instance);
}

}  // namespace
}  // namespace sluice::test
