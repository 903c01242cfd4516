// Operator truth: what /healthz, /lambdas, /metrics and systemd's notifications say
// must be what the broker and the processes show, above all in failure states.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "daemon_test.hpp"
#include "kafka/group_offsets.hpp"
#include "metrics_text.hpp"
#include "notify_socket.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kPartitions = 4;

class OperatorTruth : public DaemonTest {
 protected:
  AdminReply call(const std::string& method, const std::string& path) { return admin(dir.path(), instance, method, path); }
  json lambda(const std::string& name) {
    const auto r = call("GET", "/lambdas");
    const json j = json::parse(r.body, nullptr, false);
    if (j.is_object()) {
      for (const auto& l : j["lambdas"]) {
        if (l["name"] == name) return l;
      }
    }
    return json();
  }
  json healthz(int* status = nullptr) {
    const auto r = call("GET", "/healthz");
    if (status != nullptr) *status = r.status;
    return json::parse(r.body, nullptr, false);
  }
  // Each partition's lag as the daemon reports it; -1 where it says unknown (null).
  std::map<int, std::int64_t> lags(const std::string& name) {
    std::map<int, std::int64_t> got;
    const json l = lambda(name);  // kept: a range-for over a temporary's member would dangle
    for (const auto& p : l["partitions"]) {
      got[p["partition"].get<int>()] = p["lag"].is_null() ? -1 : p["lag"].get<std::int64_t>();
    }
    return got;
  }
  std::string health_of(const std::string& name) {
    const json h = healthz();
    return h.is_object() && h["lambdas"].contains(name) ? h["lambdas"][name]["status"].get<std::string>() : "absent";
  }
  // Lambda "s" on events (4 partitions, 100 records each) whose record seq 5
  // (events[1]@1) fails for good: partition 1 stops there and the lambda is degraded.
  void start_with_partition_1_stopped(DevBroker& broker, std::optional<Daemon>& d,
                                      const std::map<std::string, std::string>& env = {}) {
    produce(broker.bootstrap(), "events", kPartitions, 0, 100);
    d.emplace(dir.path(),
              daemon_config(instance, dir.path(), broker.bootstrap(),
                            {{.name = "s", .topic = "events", .workers = 1, .extra = "max_attempts = 1\n",
                              .options = "fail_seqs = \"5\"\n"}}),
              "run", env);
    ASSERT_TRUE(wait_until([&] { return health_of("s") == "degraded"; }, 60s)) << healthz().dump() << d->log();
  }
  // How often record seq 5 (events[1]@1) reached the handler.
  std::size_t attempts_of_5() {
    std::size_t n = 0;
    for (const auto& o : read_outcomes(outcomes(), "s")) n += seq_of(o.value) == 5 ? 1 : 0;
    return n;
  }
};

std::string broken_plugin() { return "type = \"plugin\"\npath = \"/etc/hostname\"\n"; }

// A plugin path that is not a plugin passes validate; at run time its worker can never
// start. It used to back off (0.1 ... 30 s) for minutes in "starting" with max_restarts
// never exceeded, /healthz 200, and no READY=1 for systemd (whose start timeout then
// kills the healthy lambdas too). Now: failed after start_attempts, READY sent with a
// STATUS naming it, and every signal agrees.
TEST_F(OperatorTruth, ALambdaThatCanNeverStartFailsSoonAndReadyNamesIt) {
  constexpr std::uint64_t kCount = 400;
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kCount);
  NotifySocket notify(dir.path() / "notify.sock");
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "good", .topic = "events", .workers = 1},
                          {.name = "broken", .topic = "events", .workers = 1, .handler = broken_plugin()}}),
           "run", {{"NOTIFY_SOCKET", notify.path()}});
  ASSERT_TRUE(wait_until([&] { return notify.find("READY=1") >= 0; }, 60s)) << d.log();
  EXPECT_EQ(lambda("broken")["state"], "failed");
  EXPECT_EQ(lambda("good")["state"], "running");
  const std::string failure = lambda("broken").value("failure", "");
  EXPECT_NE(failure.find("cannot start: 3 start(s) in a row"), std::string::npos) << failure;
  ASSERT_TRUE(wait_until([&] { return notify.find("STATUS=1 lambda(s) running, 1 failed: broken") >= 0; }, 30s))
      << d.log();

  int status = 0;
  const json h = healthz(&status);
  EXPECT_EQ(status, 503) << h.dump();
  EXPECT_EQ(h["status"], "failed") << h.dump();
  EXPECT_EQ(h["lambdas"]["broken"]["status"], "failed") << h.dump();
  EXPECT_EQ(lambda("broken")["health"]["status"], "failed");
  const std::string metrics = call("GET", "/metrics").body;
  EXPECT_EQ(sample(metrics, "sluice_lambda_health{lambda=\"broken\",health=\"failed\"}"), 1) << metrics;
  EXPECT_EQ(sample(metrics, "sluice_lambda_state{lambda=\"broken\",state=\"failed\"}"), 1);
  // Given up on, not retried in the background.
  const auto starts = count_of(d.log(), "lambda broken: worker 0 ended");
  EXPECT_EQ(starts, 3U) << d.log();

  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-good", kCount, kPartitions); },
                         120s))
      << d.log();
  expect_clean_stop(d, instance);
}

// A lambda that runs, then crashes on every start (a record that kills its worker, with
// max_attempts high): with backoffs longer than restart_window_s / max_restarts the old
// "N restarts within the window" never tripped, and the lambda crash-looped for ever
// while status said "starting". Restarts now count until the lambda has run a whole
// window; meanwhile its health is degraded with the reason.
TEST_F(OperatorTruth, ACrashLoopEndsFailedEvenWhenBackoffOutgrowsTheWindow) {
  DevBroker broker({"events:1"});
  produce(broker.bootstrap(), "events", 1, 0, 10);
  auto env = segv_kills_env();
  const std::string cfg = with(
      daemon_config(instance, dir.path(), broker.bootstrap(),
                    {{.name = "loop", .topic = "events", .workers = 1, .extra = "max_attempts = 1000\n", .options = "crash_seqs = \"0\"\n"},
                     {.name = "other", .topic = "events", .workers = 1}}),
      "restart_backoff_min_ms = 50\nrestart_backoff_max_ms = 1000\nmax_restarts = 100\nrestart_window_s = 60",
      "restart_backoff_min_ms = 1000\nrestart_backoff_max_ms = 1000\nmax_restarts = 4\nrestart_window_s = 3");
  Daemon d(dir.path(), cfg, "run", env);
  ASSERT_TRUE(wait_until([&] { return lambda("loop")["health"]["status"] == "degraded"; }, 60s)) << d.log();
  const std::string reason = lambda("loop")["health"]["reasons"].dump();
  EXPECT_NE(reason.find("restarting"), std::string::npos) << reason;
  ASSERT_TRUE(wait_until([&] { return lambda("loop")["state"] == "failed"; }, 60s)) << d.log();
  EXPECT_NE(lambda("loop").value("failure", "").find("5 restarts without running restart_window_s (3 s)"), std::string::npos)
      << lambda("loop").dump();
  int status = 0;
  EXPECT_EQ(healthz(&status)["status"], "failed");
  EXPECT_EQ(status, 503);
  // Marked failed, it stopped: its consumer finished on its own rather than waiting out
  // drain_timeout_ms (twice) for records held by a worker that no longer exists and
  // being killed at shutdown_timeout_ms.
  const std::string log = d.log();
  EXPECT_NE(log.find("lambda loop: consumer stopped (process exited with status 0)"), std::string::npos) << log;
  EXPECT_EQ(log.find("lambda loop: drain deadline"), std::string::npos) << log;
  EXPECT_EQ(log.find("lambda loop: children still running"), std::string::npos) << log;
  expect_clean_stop(d, instance);
}

// After a consumer restart (here: a re-register) the lag used to fall back to the fetch
// position, then the log start, while the committed offset was unknown: a stuck
// partition showed 0 and an idle one its whole log. It now comes from the group's
// committed offsets on the broker, and equals what `sluice offsets show` computes.
TEST_F(OperatorTruth, LagAfterAConsumerRestartIsWhatTheBrokerSays) {
  constexpr std::uint64_t kFirst = 400;
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kFirst);
  // Seq kFirst, produced while the lambda is deregistered, goes to partition 0 (seq % 4)
  // and hangs its handler: after the restart partition 0 is stuck one record behind,
  // and partitions 1-3 are idle with everything committed.
  const std::string cfg = daemon_config(
      instance, dir.path(), broker.bootstrap(),
      {{.name = "lag", .topic = "events", .workers = 2, .handler_extra = "timeout_ms = 600000\n",
        .options = "hang_seqs = \"" + std::to_string(kFirst) + "\"\n"}});
  Daemon d(dir.path(), cfg);
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-lag", kFirst, kPartitions); }, 120s))
      << d.log();
  ASSERT_EQ(call("DELETE", "/kafka/register/lag").status, 200) << d.log();
  produce(broker.bootstrap(), "events", kPartitions, kFirst, 1);
  ASSERT_EQ(call("POST", "/kafka/register/lag").status, 200) << d.log();
  // What the broker says (the library `sluice offsets show` prints from).
  const auto truth = kafka::group_offsets({{"bootstrap.servers", broker.bootstrap()}}, "lambda-lag", {"events"});
  ASSERT_EQ(truth.size(), static_cast<std::size_t>(kPartitions));
  std::map<int, std::int64_t> want;
  for (const auto& p : truth) want[p.partition] = p.lag();
  EXPECT_EQ(want.at(0), 1) << "partition 0 is stuck at seq " << kFirst;
  for (int p = 1; p < kPartitions; ++p) EXPECT_EQ(want.at(p), 0) << p;
  auto reported = [&] { return lags("lag"); };
  // Until the consumer has the broker's answer a partition's lag is unknown (null), never
  // a guess; then it is the broker's.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto got = reported();
        return got.size() == want.size() &&
               std::none_of(got.begin(), got.end(), [](const auto& kv) { return kv.second < 0; });
      },
      60s))
      << lambda("lag").dump() << "\n" << d.log();
  for (int check = 0; check < 3; ++check) {
    const auto got = reported();
    for (const auto& [p, lag] : got) {
      ASSERT_TRUE(lag < 0 || lag == want.at(p)) << "partition " << p << ": daemon says " << lag << ", broker " << want.at(p);
    }
  }
  const std::string metrics = call("GET", "/metrics").body;
  EXPECT_EQ(sample(metrics, "sluice_partition_lag{lambda=\"lag\",topic=\"events\",partition=\"0\"}"), want.at(0)) << metrics;
  std::int64_t total = 0;
  for (const auto& [p, lag] : want) total += lag;
  EXPECT_EQ(sample(metrics, "sluice_lambda_lag{lambda=\"lag\"}"), total);
  d.signal(SIGKILL);  // the hung handler would hold the drain for its whole timeout
  ASSERT_TRUE(d.wait_exit(30s).has_value());
}

// With the only broker down, /healthz said ok and sluice_lambda_up 1. The consumer now
// reports its connections from librdkafka's statistics; the lambda is degraded while
// none is up, and ok again once one is.
TEST_F(OperatorTruth, ABrokerOutageMakesTheLambdaDegradedUntilItEnds) {
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, 100);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "b", .topic = "events", .workers = 1}}));
  ASSERT_TRUE(wait_until([&] { return health_of("b") == "ok"; }, 60s)) << healthz().dump() << d.log();
  // The first statistics report comes a second after the consumer starts.
  ASSERT_TRUE(wait_until([&] { return sample(call("GET", "/metrics").body, "sluice_broker_connected{lambda=\"b\"}") == 1; }, 30s))
      << call("GET", "/metrics").body;
  int status = 0;
  EXPECT_EQ(healthz(&status)["status"], "ok");
  EXPECT_EQ(status, 200);

  ASSERT_EQ(broker.control("down 1"), "ok");
  ASSERT_TRUE(wait_until([&] { return health_of("b") == "degraded"; }, 60s)) << healthz().dump() << d.log();
  const json h = healthz(&status);
  EXPECT_EQ(status, 503);
  EXPECT_EQ(h["status"], "degraded");
  EXPECT_NE(h["lambdas"]["b"]["reasons"].dump().find("no broker connection"), std::string::npos) << h.dump();
  EXPECT_EQ(sample(call("GET", "/metrics").body, "sluice_broker_connected{lambda=\"b\"}"), 0);
  EXPECT_EQ(sample(call("GET", "/metrics").body, "sluice_lambda_health{lambda=\"b\",health=\"degraded\"}"), 1);

  // librdkafka's own lines about it went through sluice's logger, at their level:
  // journald files them as warnings or errors, not as info without a prefix.
  const std::string log = d.log();
  EXPECT_EQ(log.find("%3|"), std::string::npos) << "a raw librdkafka line";
  EXPECT_EQ(log.find("\n%"), std::string::npos) << "a raw librdkafka line";
  bool kafka_warning = false;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if ((line.starts_with("<3>") || line.starts_with("<4>")) && line.find("[consumer b] ") != std::string::npos &&
        line.find("kafka") != std::string::npos) {
      kafka_warning = true;
    }
  }
  EXPECT_TRUE(kafka_warning) << log;

  ASSERT_EQ(broker.control("up 1"), "ok");
  ASSERT_TRUE(wait_until([&] { return health_of("b") == "ok"; }, 120s)) << healthz().dump() << d.log();
  EXPECT_EQ(sample(call("GET", "/metrics").body, "sluice_broker_connected{lambda=\"b\"}"), 1);
  expect_clean_stop(d, instance);
}

// A partition stopped by on_failure = "stop" held everything after it while /healthz
// said ok, and only a re-register moved it; and a daemon whose every lambda was
// deregistered said ok while doing nothing.
TEST_F(OperatorTruth, AStoppedPartitionIsDegradedAndResumableAndADaemonWithNothingRunningIsIdle) {
  DevBroker broker({"events:4"});
  std::optional<Daemon> daemon;
  ASSERT_NO_FATAL_FAILURE(start_with_partition_1_stopped(broker, daemon));
  Daemon& d = *daemon;
  const json h = healthz();
  EXPECT_NE(h["lambdas"]["s"]["reasons"].dump().find("1 partition(s) stopped"), std::string::npos) << h.dump();
  const json l = lambda("s");
  int stopped = 0;
  for (const auto& p : l["partitions"]) stopped += p["stopped"].get<bool>() ? 1 : 0;
  EXPECT_EQ(stopped, 1) << l.dump();
  EXPECT_EQ(sample(call("GET", "/metrics").body, "sluice_partitions_stopped{lambda=\"s\"}"), 1);
  EXPECT_NE(d.log().find("until it is resumed (`sluice resume s --topic events --partition 1`"), std::string::npos)
      << "the line that stops a partition says how to resume it\n" << d.log();

  // `sluice resume`: another partition has nothing to resume; the stopped one is fetched
  // again from its failed record, which gets its attempts afresh (and, failing again
  // here, stops the partition again).
  const std::string config = (dir.path() / "run.toml").string();
  auto r = run_sluice(dir.path(), {"resume", "s", "--topic", "events", "--partition", "0", "-c", config});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("no stopped partition"), std::string::npos) << r.out;
  ASSERT_EQ(attempts_of_5(), 1U);
  r = run_sluice(dir.path(), {"resume", "s", "-c", config});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("1 partition(s) resumed"), std::string::npos) << r.out;
  EXPECT_NE(d.log().find("events[1] resumed at offset 1 (the operator asked)"), std::string::npos) << d.log();
  ASSERT_TRUE(wait_until([&] { return attempts_of_5() == 2; }, 60s)) << d.log();
  ASSERT_TRUE(wait_until([&] { return sample(call("GET", "/metrics").body, "sluice_partitions_stopped{lambda=\"s\"}") == 1; }, 60s));
  EXPECT_EQ(call("POST", "/lambdas/s/resume?partition=1").status, 400) << "a partition needs its topic";
  EXPECT_EQ(call("POST", "/lambdas/s/resume?topic=nope").status, 404);

  ASSERT_EQ(call("DELETE", "/kafka/register/s").status, 200);
  int status = 0;
  const json idle = healthz(&status);
  EXPECT_EQ(idle["status"], "idle") << idle.dump();
  EXPECT_EQ(status, 503);
  expect_clean_stop(d, instance);
}

// librdkafka can stop fetching a partition without a word (a resume it loses, a fetcher
// start it drops as outdated: consumer/fetch_stall.hpp). In one CI run a partition
// resumed with `sluice resume` was never fetched again: its record waited, nothing was
// logged, /healthz said the lambda was fine. Here a preloaded shim makes librdkafka lose
// the resume `sluice resume` makes; the consumer sees that the leader has records the
// partition's fetch is not getting, says so, counts it and restarts the fetch.
TEST_F(OperatorTruth, APartitionLibrdkafkaStopsFetchingIsNoticedReportedAndRestarted) {
  DevBroker broker({"events:4"});
  const fs::path lose = dir.path() / "lose-resume";
  const std::map<std::string, std::string> env = {
      {"LD_PRELOAD", targets().lose_resume},
      {"LOSE_RESUME_PARTITION", "events:1"},
      {"LOSE_RESUME_FILE", lose.string()},
      // A preloaded library comes before AddressSanitizer's runtime, which it refuses by default.
      {"ASAN_OPTIONS", asan_options_with("verify_asan_link_order=0")}};
  std::optional<Daemon> daemon;
  ASSERT_NO_FATAL_FAILURE(start_with_partition_1_stopped(broker, daemon, env));
  Daemon& d = *daemon;
  ASSERT_EQ(attempts_of_5(), 1U);
  std::ofstream(lose) << "the next resume of events[1] is lost\n";
  const auto r = run_sluice(dir.path(), {"resume", "s", "-c", (dir.path() / "run.toml").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(wait_until([&] { return !fs::exists(lose); }, 30s)) << "the shim never saw the resume\n" << d.log();
  ASSERT_TRUE(wait_until([&] { return attempts_of_5() == 2; }, 60s)) << "the partition was never fetched again\n" << d.log();
  const std::string log = d.log();
  EXPECT_NE(log.find("events[1]: its leader has records to offset 24 but nothing past offset 0 has been fetched for 10 s"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("restarting its fetch at offset 1"), std::string::npos) << log;
  EXPECT_EQ(sample(call("GET", "/metrics").body, "sluice_fetch_restarts_total{lambda=\"s\"}"), 1);
  fetch_restarts_expected_ = 1;
  expect_clean_stop(d, instance);
}

// A stopped (or otherwise paused) partition is not fetched, and librdkafka refreshes a
// partition's watermarks only from fetches: its lag froze at the moment it stopped while
// records kept arriving (here it said 24 where the broker said 124). The consumer now
// asks the leaders for paused partitions' watermarks off its loop.
TEST_F(OperatorTruth, TheLagOfAStoppedPartitionGrowsWithWhatIsProducedToIt) {
  DevBroker broker({"events:4"});
  std::optional<Daemon> daemon;
  ASSERT_NO_FATAL_FAILURE(start_with_partition_1_stopped(broker, daemon));
  Daemon& d = *daemon;
  produce(broker.bootstrap(), "events", kPartitions, 100, 400);  // 100 more on each partition
  // Partition 1 stays at its failed record (offset 1); the others are handled to the end.
  auto want = end_offsets(500, kPartitions);
  want[1] = 1;
  ASSERT_TRUE(wait_until([&] { return committed_or_empty(broker.bootstrap(), "lambda-s") == want; }, 120s)) << d.log();
  const auto truth = kafka::group_offsets({{"bootstrap.servers", broker.bootstrap()}}, "lambda-s", {"events"});
  std::map<int, std::int64_t> expected;
  for (const auto& p : truth) expected[p.partition] = p.lag();
  ASSERT_EQ(expected.at(1), 124) << "the broker's view: 125 records on partition 1, committed 1";
  ASSERT_TRUE(wait_until([&] { return lags("s") == expected; }, 30s))
      << "daemon says partition 1 lags " << lags("s")[1] << ", the broker " << expected.at(1) << "\n" << lambda("s").dump();
  EXPECT_EQ(sample(call("GET", "/metrics").body, "sluice_partition_lag{lambda=\"s\",topic=\"events\",partition=\"1\"}"), 124);
  expect_clean_stop(d, instance);
}

// A plugin's own writes to stdout and stderr reached the journal raw: no priority, no
// lambda or worker named (an exec handler's lines were named). The supervisor now reads
// each worker's stdout and stderr through a pipe and logs every line named and with a
// priority; it outlives the worker, so what a plugin writes just before it crashes is
// logged too, before the line that says the worker ended.
TEST_F(OperatorTruth, WhatAPluginWritesIsLoggedNamedEvenJustBeforeACrash) {
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, 20);
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "p", .topic = "events", .workers = 1, .extra = "max_attempts = 1\non_failure = \"skip\"\n",
                           .options = "say = \"hello from the plugin\"\ncrash_seqs = \"7\"\n"}}),
           "run", segv_kills_env());
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-p", 20, kPartitions); }, 60s)) << d.log();
  const std::string log = d.log();
  auto line_with = [&](const std::string& text) {
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(text) != std::string::npos) return line;
    }
    return std::string();
  };
  for (const std::string text : {"lambda p: worker 0: hello from the plugin", "lambda p: worker 0: hello from the plugin (stderr)"}) {
    const std::string line = line_with(text);
    ASSERT_FALSE(line.empty()) << text << " is not in the log\n" << log;
    EXPECT_TRUE(line.starts_with("<6>")) << "no priority: " << line;
  }
  const auto last_words = log.find("lambda p: worker 0: recorder: crashing on 7");
  const auto ended = log.find("lambda p: worker 0 ended: worker killed by SIGSEGV");
  ASSERT_NE(last_words, std::string::npos) << log;
  ASSERT_NE(ended, std::string::npos) << log;
  EXPECT_LT(last_words, ended) << "the last words come before the line that says the worker ended";
  expect_clean_stop(d, instance);
}

// A consumer that never completed its group join looked like a healthy one with nothing
// to do: "running", health ok, not a line in the log (a CI run once waited 60 s on
// one). The group's state comes from librdkafka's statistics: in the status at once,
// and after 30 s unsettled a warning and a degraded lambda, until it settles.
TEST_F(OperatorTruth, AConsumerThatCannotJoinItsGroupIsReportedUntilItDoes) {
  DevBroker broker({"events:4"});
  ASSERT_EQ(broker.control("errors JoinGroup COORDINATOR_LOAD_IN_PROGRESS 100000"), "ok");
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "g", .topic = "events", .workers = 1}}));
  auto group = [&] { return lambda("g")["group"]; };
  ASSERT_TRUE(wait_until([&] { return group().is_object() && group()["state"] != "unknown"; }, 30s)) << lambda("g").dump();
  EXPECT_NE(group()["join_state"], "steady") << group().dump();
  EXPECT_GT(group()["unsettled_ms"].get<std::uint64_t>(), 0U) << group().dump();
  EXPECT_EQ(sample(call("GET", "/metrics").body, "sluice_group_settled{lambda=\"g\"}"), 0);

  ASSERT_TRUE(wait_until([&] { return health_of("g") == "degraded"; }, 90s)) << healthz().dump() << d.log();
  const json h = healthz();
  EXPECT_NE(h["lambdas"]["g"]["reasons"].dump().find("not settled in consumer group lambda-g for "), std::string::npos)
      << h.dump();
  ASSERT_TRUE(wait_until([&] { return d.log().find("lambda g: not settled in consumer group lambda-g for ") != std::string::npos; },
                         30s))
      << d.log();

  ASSERT_EQ(broker.control("clear-errors JoinGroup"), "ok");
  ASSERT_TRUE(wait_until([&] { return health_of("g") == "ok"; }, 60s)) << healthz().dump() << d.log();
  EXPECT_EQ(group()["join_state"], "steady") << group().dump();
  EXPECT_EQ(group()["unsettled_ms"], 0) << group().dump();
  EXPECT_EQ(sample(call("GET", "/metrics").body, "sluice_group_settled{lambda=\"g\"}"), 1);
  EXPECT_NE(d.log().find("lambda g: settled in consumer group lambda-g again after "), std::string::npos) << d.log();
  produce(broker.bootstrap(), "events", kPartitions, 0, 20);
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-g", 20, kPartitions); }, 60s)) << d.log();
  expect_clean_stop(d, instance);
}

// resume_stopped_after_s: a stopped partition retries its failed record by itself.
TEST_F(OperatorTruth, AStoppedPartitionResumesByItselfWhenConfigured) {
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, 100);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "s", .topic = "events", .workers = 1,
                                       .extra = "max_attempts = 1\nresume_stopped_after_s = 1\n",
                                       .options = "fail_seqs = \"5\"\n"}}));
  ASSERT_TRUE(wait_until([&] { return attempts_of_5() >= 3; }, 60s)) << lambda("s").dump() << "\n" << d.log();
  EXPECT_NE(d.log().find("resumed at offset 1 (resume_stopped_after_s)"), std::string::npos) << d.log();
  EXPECT_NE(d.log().find("it resumes by itself in 1 s"), std::string::npos);
  expect_clean_stop(d, instance);
}

// `sluice status` (and reload) used to refuse to run when any lambda file was broken,
// exactly when the operator needs them; the read endpoints answer 405 to other methods;
// `sluice register` / `deregister` are OpenLambda's POST / DELETE.
TEST_F(OperatorTruth, StatusAndRegisterWorkWithABrokenLambdaFileAndReadEndpointsSay405) {
  DevBroker broker({"events:4"});
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "a", .topic = "events", .workers = 1}}));
  ASSERT_TRUE(wait_until([&] { return lambda("a")["state"] == "running"; }, 60s)) << d.log();
  fs::create_directories(dir.path() / "lambdas.d");
  std::ofstream(dir.path() / "lambdas.d" / "b.toml") << "[lambda]\ntopics = [\"events\"]\nworkers = \n";
  const std::string config = (dir.path() / "run.toml").string();
  auto r = run_sluice(dir.path(), {"status", "-c", config});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("running"), std::string::npos) << r.out;
  r = run_sluice(dir.path(), {"reload", "--wait", "-c", config});
  EXPECT_EQ(r.status, 78) << r.out << r.err;
  EXPECT_NE(r.err.find("b.toml:3:"), std::string::npos) << "the daemon names the broken file: " << r.err;
  for (const std::string path : {"/metrics", "/lambdas", "/healthz"}) {
    const auto reply = call("POST", path);
    EXPECT_EQ(reply.status, 405) << path << ": " << reply.body;
  }
  // OpenLambda's register and deregister, from the command line too.
  r = run_sluice(dir.path(), {"deregister", "a", "-c", config});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "a: stopped\n");
  r = run_sluice(dir.path(), {"register", "a", "-c", config});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "a: running\n");
  expect_clean_stop(d, instance);
}

// A consumer that ends (here: killed) takes its workers and rings with it, and Kafka
// delivers the uncommitted records again. Their attempt count used to start over at 1,
// against what plugin.h and the exec protocol promise, and max_attempts did not hold
// across the restart. The supervisor now hands the next consumer what the workers had
// tried.
TEST_F(OperatorTruth, AttemptsCarryOverAConsumerRestart) {
  DevBroker broker({"events:1", "events.dlq:1"});
  produce(broker.bootstrap(), "events", 1, 0, 3);
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "c", .topic = "events", .workers = 1,
                           .extra = "dead_letter_topic = \"events.dlq\"\nmax_attempts = 5\nretry_backoff_ms = [1500, 1500]\n",
                           .options = "retry_seqs = \"0\"\n"}}));
  auto attempts_of_0 = [&] {
    std::vector<std::uint32_t> a;
    for (const auto& o : read_outcomes(outcomes(), "c")) {
      if (seq_of(o.value) == 0) a.push_back(o.attempt);
    }
    return a;
  };
  ASSERT_TRUE(wait_until([&] { return attempts_of_0().size() >= 2; }, 60s)) << d.log();
  const auto consumers = d.children("consumer --instance");
  ASSERT_EQ(consumers.size(), 1U);
  ::kill(consumers[0], SIGKILL);  // between attempts 2 and 3 (1.5 s apart)
  ASSERT_TRUE(wait_until([&] { return !read_topic(broker.bootstrap(), "events.dlq", 1, 1s).empty(); }, 60s)) << d.log();
  // Outcome files are per worker process, read in file order: sort before judging.
  auto seen = attempts_of_0();
  std::sort(seen.begin(), seen.end());
  ASSERT_GE(seen.size(), 3U);
  EXPECT_EQ(seen.back(), 5U) << ::testing::PrintToString(seen);
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end())
      << "attempts went on from where they were, none repeated: " << ::testing::PrintToString(seen);
  EXPECT_LE(seen.size(), 5U) << "max_attempts (5) held across the restart: " << ::testing::PrintToString(seen);
  const auto dlq = read_topic(broker.bootstrap(), "events.dlq", 1, 10s);
  ASSERT_EQ(dlq.size(), 1U);
  EXPECT_EQ(dlq[0].headers.at("sluice-attempts"), "5");
  EXPECT_NE(d.log().find("keep their attempt counts"), std::string::npos) << d.log();
  expect_clean_stop(d, instance);
}

// The metrics an operator expects beside sluice's own: the build, and CPU, memory,
// descriptors and start time of every process, children included.
TEST_F(OperatorTruth, MetricsIncludeBuildInfoAndEveryProcess) {
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, 100);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "m", .topic = "events", .workers = 2}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-m", 100, kPartitions); }, 120s))
      << d.log();
  const std::string m = call("GET", "/metrics").body;
  EXPECT_EQ(check_exposition(m), "");
  EXPECT_NE(m.find("sluice_build_info{version=\""), std::string::npos) << m;
  for (const std::string who : {"{process=\"supervisor\"}", "{lambda=\"m\",process=\"consumer\"}",
                                "{lambda=\"m\",process=\"worker\",worker=\"0\"}", "{lambda=\"m\",process=\"worker\",worker=\"1\"}"}) {
    EXPECT_GT(sample(m, "process_resident_memory_bytes" + who), 1e6) << who << "\n" << m;
    EXPECT_GT(sample(m, "process_open_fds" + who), 2) << who;
    EXPECT_GT(sample(m, "process_start_time_seconds" + who), 1.7e9) << who;
    EXPECT_GE(sample(m, "process_cpu_seconds_total" + who), 0) << who;
  }
  EXPECT_GE(sample(m, "sluice_rebalances_total{lambda=\"m\",kind=\"assign\"}"), 1) << m;
  EXPECT_GT(sample(m, "sluice_last_commit_timestamp_seconds{lambda=\"m\"}"), 1.7e9) << m;
  EXPECT_EQ(sample(m, "sluice_partitions_stopped{lambda=\"m\"}"), 0);
  expect_clean_stop(d, instance);
}

}  // namespace
}  // namespace sluice::test
