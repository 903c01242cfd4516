// The admin API, reload and systemd notifications against a running daemon: real HTTP
// to the daemon's own server, real signals, a real notify socket.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "daemon_test.hpp"
#include "metrics_text.hpp"
#include "notify_socket.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kPartitions = 4;

class Admin : public DaemonTest {
 protected:
  AdminReply call(const std::string& method, const std::string& path, const std::string& token = "") {
    return admin(dir.path(), instance, method, path, token);
  }
  json lambdas(const std::string& token = "") {
    const auto r = call("GET", "/lambdas", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  std::string state_of(const std::string& name) { return lambda_state(dir.path(), instance, name); }
  std::vector<pid_t> procs(Daemon& d, const std::string& lambda) {
    return d.children("--lambda " + lambda + " ");
  }
  void write_lambda(const std::string& bootstrap, const LambdaSpec& spec) {
    fs::create_directories(dir.path() / "lambdas.d");
    std::ofstream(dir.path() / "lambdas.d" / (spec.name + ".toml")) << lambda_file(dir.path(), bootstrap, spec);
  }
  CliResult sluice(const std::vector<std::string>& args) {
    std::vector<std::string> all = args;
    all.push_back("-c");
    all.push_back((dir.path() / "run.toml").string());
    return run_sluice(dir.path(), all);
  }
};

// GET /lambdas and GET /metrics report what the consumer and workers wrote into shared
// memory: every partition's committed offset and high watermark, lag, counters and
// histograms; a bearer token guards everything but /healthz.
TEST_F(Admin, LambdasAndMetricsReportPartitionsLagAndCountersBehindABearerToken) {
  constexpr std::uint64_t kCount = 2000;
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kCount);
  std::ofstream(dir.path() / "token") << "s3cret-token\n";
  fs::permissions(dir.path() / "token", fs::perms::owner_read | fs::perms::owner_write);
  const std::string cfg = with(daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "m", .topic = "events", .workers = 2}}),
                               "admin_listen = \"127.0.0.1:0\"\n",
                               "admin_listen = \"127.0.0.1:0\"\nadmin_token_file = \"" + (dir.path() / "token").string() + "\"\n");
  Daemon d(dir.path(), cfg);
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-m", kCount, kPartitions); }, 120s)) << d.log();

  EXPECT_EQ(call("GET", "/lambdas").status, 401);
  EXPECT_EQ(call("GET", "/metrics", "wrong").status, 401);
  const auto health = call("GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(json::parse(health.body)["status"], "ok");

  const auto end = end_offsets(kCount, kPartitions);
  // The consumer publishes watermarks on its commit cadence: wait for the lag to reach 0.
  json m;
  ASSERT_TRUE(wait_until(
      [&] {
        m = lambdas("s3cret-token")["lambdas"][0];
        return m["lag"] == 0 && m["partitions"].size() == kPartitions && m["records"]["handled"] == kCount;
      },
      30s))
      << m.dump(2);
  EXPECT_EQ(m["name"], "m");
  EXPECT_EQ(m["state"], "running");
  EXPECT_EQ(m["group_id"], "lambda-m");
  EXPECT_EQ(m["workers"], 2);
  for (const auto& p : m["partitions"]) {
    const int part = p["partition"];
    EXPECT_EQ(p["topic"], "events");
    EXPECT_EQ(p["committed"], end.at(part)) << p.dump();
    EXPECT_EQ(p["high_watermark"], end.at(part)) << p.dump();
    EXPECT_EQ(p["lag"], 0) << p.dump();
  }

  const auto metrics = call("GET", "/metrics", "s3cret-token");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_TRUE(metrics.content_type.starts_with("text/plain; version=0.0.4")) << metrics.content_type;
  EXPECT_EQ(check_exposition(metrics.body), "") << metrics.body;
  const std::string l = "{lambda=\"m\"}";
  EXPECT_EQ(sample(metrics.body, "sluice_records_handled_total" + l), kCount) << metrics.body;
  EXPECT_EQ(sample(metrics.body, "sluice_records_consumed_total" + l), kCount);
  EXPECT_EQ(sample(metrics.body, "sluice_records_failed_total" + l), 0);
  EXPECT_EQ(sample(metrics.body, "sluice_handler_invocations_total" + l), kCount);
  EXPECT_EQ(sample(metrics.body, "sluice_handler_duration_seconds_count" + l), kCount);
  EXPECT_EQ(sample(metrics.body, "sluice_handler_duration_seconds_bucket{lambda=\"m\",le=\"+Inf\"}"), kCount);
  EXPECT_EQ(sample(metrics.body, "sluice_record_wait_seconds_count" + l), kCount);  // every record on its first attempt
  EXPECT_GT(sample(metrics.body, "sluice_record_wait_seconds_sum" + l), 0);
  EXPECT_GT(sample(metrics.body, "sluice_commit_latency_seconds_count" + l), 0);
  EXPECT_EQ(sample(metrics.body, "sluice_lambda_up" + l), 1);
  EXPECT_EQ(sample(metrics.body, "sluice_lambda_lag" + l), 0);
  for (const auto& [part, off] : end) {
    const std::string series = "{lambda=\"m\",topic=\"events\",partition=\"" + std::to_string(part) + "\"}";
    EXPECT_EQ(sample(metrics.body, "sluice_partition_committed_offset" + series), off) << series;
    EXPECT_EQ(sample(metrics.body, "sluice_partition_high_watermark" + series), off) << series;
  }

  // A killed worker shows as a restart; lag shows while records wait behind a slow start.
  const auto workers = d.children("worker");
  ASSERT_EQ(workers.size(), 2U);
  ASSERT_EQ(::kill(workers[0], SIGKILL), 0);
  ASSERT_TRUE(wait_until(
      [&] { return sample(call("GET", "/metrics", "s3cret-token").body, "sluice_worker_restarts_total" + l) == 1; }, 30s));
  ASSERT_TRUE(wait_until([&] { return lambdas("s3cret-token")["lambdas"][0]["state"] == "running"; }, 30s));
  expect_clean_stop(d);
}

// OpenLambda's management API: DELETE stops a lambda (it stays stopped across reloads),
// POST reads its file again and starts it; the records that arrived meanwhile are
// handled once it is back. Bad names, unknown lambdas and invalid files get 4xx.
TEST_F(Admin, RegisterAndDeregisterStopAndStartALambdaFromItsFile) {
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, 1000);
  write_lambda(broker.bootstrap(), {.name = "b", .topic = "events", .workers = 2});
  // "a" in the main file keeps the daemon busy while "b" is away.
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "a", .topic = "events", .workers = 1}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-b", 1000, kPartitions); }, 120s)) << d.log();

  auto r = call("DELETE", "/kafka/register/b");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["state"], "stopped");
  EXPECT_TRUE(procs(d, "b").empty()) << "b's processes must be gone when DELETE answers";
  EXPECT_EQ(procs(d, "a").size(), 2U);
  produce(broker.bootstrap(), "events", kPartitions, 1000, 1000);
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-a", 2000, kPartitions); }, 120s)) << d.log();
  EXPECT_TRUE(committed_to_end(broker.bootstrap(), "lambda-b", 1000, kPartitions)) << "a stopped lambda commits nothing";

  const auto reload = sluice({"reload", "--wait"});
  EXPECT_EQ(reload.status, 0) << reload.err;
  EXPECT_EQ(state_of("b"), "stopped") << "a reload must not start a deregistered lambda";

  r = call("POST", "/kafka/register/b");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["state"], "running");
  EXPECT_EQ(procs(d, "b").size(), 3U);
  std::vector<Outcome> out;
  ASSERT_NO_FATAL_FAILURE(out = expect_delivered(broker.bootstrap(), d, "b", 2000, kPartitions, 120s));

  // Registering a running lambda restarts it (OpenLambda cleans up first).
  const auto before = procs(d, "b");
  r = call("POST", "/kafka/register/b");
  ASSERT_EQ(r.status, 200) << r.body;
  for (pid_t p : before) EXPECT_FALSE(process_alive(p)) << "register must replace the running processes";

  EXPECT_EQ(call("POST", "/kafka/register/no.such").status, 400);
  EXPECT_EQ(call("POST", "/kafka/register/nosuch").status, 404);
  EXPECT_EQ(call("DELETE", "/kafka/register/nosuch").status, 404);
  EXPECT_EQ(call("GET", "/no/such/endpoint").status, 404);
  std::ofstream(dir.path() / "lambdas.d" / "broken.toml") << "[lambda]\ntopics = [\"events\"]\nworkers = \"many\"\n";
  r = call("POST", "/kafka/register/broken");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("broken.toml:3:"), std::string::npos) << r.body;
  EXPECT_EQ(state_of("broken"), "absent");
  fs::remove(dir.path() / "lambdas.d" / "broken.toml");
  expect_clean_stop(d);
}

// `sluice reload --wait` and SIGHUP restart exactly the lambdas whose files changed,
// start new ones, stop removed ones, and keep everything as it was when the new
// configuration is invalid (exit 78 with the file, line and column).
TEST_F(Admin, ReloadRestartsOnlyChangedLambdasAndKeepsTheRunningConfigWhenTheNewOneIsBad) {
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, 1000);
  write_lambda(broker.bootstrap(), {.name = "a", .topic = "events", .workers = 2});
  write_lambda(broker.bootstrap(), {.name = "b", .topic = "events", .workers = 2});
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {}));
  for (const std::string n : {"a", "b"}) {
    ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-" + n, 1000, kPartitions); }, 120s)) << n << d.log();
  }
  const auto a_before = procs(d, "a");
  const auto b_before = procs(d, "b");
  ASSERT_EQ(a_before.size(), 3U);

  write_lambda(broker.bootstrap(), {.name = "b", .topic = "events", .workers = 3});
  auto r = sluice({"reload", "--wait"});
  ASSERT_EQ(r.status, 0) << r.err << d.log();
  EXPECT_NE(r.out.find("b: running"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("a:"), std::string::npos) << r.out;
  EXPECT_EQ(procs(d, "a"), a_before) << "an unchanged lambda keeps its processes";
  EXPECT_EQ(procs(d, "b").size(), 4U) << "b now has 3 workers";
  for (pid_t p : b_before) EXPECT_FALSE(process_alive(p));

  write_lambda(broker.bootstrap(), {.name = "c", .topic = "events", .workers = 1});
  d.signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return state_of("c") == "running"; }, 60s)) << d.log();
  produce(broker.bootstrap(), "events", kPartitions, 1000, 1000);
  for (const std::string n : {"a", "b", "c"}) {
    ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-" + n, 2000, kPartitions); }, 120s)) << n << d.log();
    EXPECT_EQ(check_no_loss(read_outcomes(outcomes(), n), 2000), "") << n;
  }

  // Invalid: nothing changes, not even the parts of the new config that were fine.
  const auto all_before = d.children("--segment-fd");
  fs::remove(dir.path() / "lambdas.d" / "c.toml");
  std::ofstream(dir.path() / "lambdas.d" / "b.toml") << "[lambda]\ntopics = [\"events\"]\nworkers = \n";
  r = sluice({"reload", "--wait"});
  EXPECT_EQ(r.status, 78) << r.out << r.err;
  EXPECT_NE(r.err.find("b.toml:3:"), std::string::npos) << r.err;
  EXPECT_EQ(d.children("--segment-fd"), all_before);
  EXPECT_EQ(state_of("c"), "running");
  EXPECT_EQ(call("GET", "/healthz").status, 200);

  write_lambda(broker.bootstrap(), {.name = "b", .topic = "events", .workers = 3});
  r = sluice({"reload", "--wait"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("c: removed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("b:"), std::string::npos) << "b is as it was: " << r.out;
  EXPECT_TRUE(procs(d, "c").empty());
  EXPECT_EQ(state_of("c"), "absent");
  expect_clean_stop(d);
}

// `sluice offsets reset`: a dry run unless --execute, refused while the lambda runs,
// then (once its static member's session expired) committed as planned; the lambda,
// registered again, handles exactly the records the reset moved it back over.
TEST_F(Admin, OffsetsResetIsADryRunUntilExecuteAndRefusedWhileTheLambdaRuns) {
  constexpr std::uint64_t kCount = 1000;
  DevBroker broker({"events:4"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kCount);
  write_lambda(broker.bootstrap(), {.name = "r", .topic = "events", .workers = 2});
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "a", .topic = "events", .workers = 1}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-r", kCount, kPartitions); }, 120s)) << d.log();
  const auto end = end_offsets(kCount, kPartitions);

  auto r = sluice({"offsets", "reset", "--lambda", "r", "--to-earliest"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("dry run"), std::string::npos) << r.out;
  r = sluice({"offsets", "reset", "--lambda", "r", "--to-earliest", "--execute"});
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.err.find("lambda r is running"), std::string::npos) << r.err;
  EXPECT_EQ(sluice({"offsets", "reset", "--lambda", "r", "--to-earliest", "--to-latest"}).status, 2);
  EXPECT_EQ(sluice({"offsets", "reset", "--lambda", "r", "--to-datetime", "yesterday"}).status, 2);
  EXPECT_EQ(sluice({"offsets", "reset", "--lambda", "r", "--to-latest", "--topic", "other"}).status, 2);
  EXPECT_EQ(committed_offsets(broker.bootstrap(), "lambda-r", "events"), end) << "nothing may move without --execute";

  ASSERT_EQ(call("DELETE", "/kafka/register/r").status, 200);
  r = sluice({"offsets", "reset", "--lambda", "r", "--to-offset", "100", "--topic", "events:2", "--execute"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  r = sluice({"offsets", "reset", "--lambda", "r", "--shift-by", "-50", "--topic", "events:0", "--execute"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  auto expected = end;
  expected[2] = 100;
  expected[0] = end.at(0) - 50;
  EXPECT_EQ(committed_offsets(broker.bootstrap(), "lambda-r", "events"), expected);

  ASSERT_EQ(call("POST", "/kafka/register/r").status, 200);
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-r", kCount, kPartitions); }, 120s)) << d.log();
  const auto out = read_outcomes(outcomes(), "r");
  EXPECT_EQ(out.size(), kCount + static_cast<std::size_t>(end.at(2) - 100) + 50) << "handled again: exactly the moved-over records";
  expect_clean_stop(d);
}

// --log-format json (SLUICE_LOG_FORMAT, which children inherit): every line of every
// process is one JSON object; the default text lines carry journald's priority prefix.
TEST_F(Admin, JsonLogLinesFromEveryProcess) {
  DevBroker broker({"events:4"});
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "j", .topic = "events", .workers = 1}}),
           "run", {{"SLUICE_LOG_FORMAT", "json"}});
  ASSERT_TRUE(wait_until([&] { return state_of("j") == "running"; }, 60s)) << d.log();
  expect_clean_stop(d);
  std::istringstream in(d.log());
  std::string line;
  std::set<std::string> roles;
  std::size_t lines = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++lines;
    const json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "not a JSON line: " << line;
    for (const char* key : {"time", "level", "priority", "role", "pid", "message"}) EXPECT_TRUE(j.contains(key)) << line;
    roles.insert(j.value("role", ""));
  }
  EXPECT_GT(lines, 5U);
  // A healthy plugin worker logs nothing at info level; the others always do.
  EXPECT_TRUE(roles.count("supervisor") == 1 && roles.count("consumer j") == 1) << lines;
  for (const auto& role : roles) EXPECT_TRUE(role == "supervisor" || role == "consumer j" || role == "worker j/0") << role;

  Daemon text(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "t", .topic = "events", .workers = 1}}),
              "text");
  ASSERT_TRUE(wait_until([&] { return text.log().find("ready: every lambda has started") != std::string::npos; }, 60s));
  EXPECT_TRUE(text.log().starts_with("<6>")) << text.log().substr(0, 200);
  expect_clean_stop(text);
}


// READY once every lambda runs, RELOADING (with MONOTONIC_USEC) then READY around a
// reload, STOPPING at SIGTERM, WATCHDOG pings, a STATUS line; no child inherits the
// notify socket or the watchdog variables.
TEST_F(Admin, SystemdNotificationsAndNoNotifySocketInChildren) {
  DevBroker broker({"events:4"});
  NotifySocket notify(dir.path() / "notify.sock");
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "n", .topic = "events", .workers = 2}}),
           "run", {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "400000"}});
  ASSERT_TRUE(wait_until([&] { return notify.find("READY=1") >= 0; }, 60s)) << d.log();
  EXPECT_EQ(state_of("n"), "running") << "READY=1 only once the lambda runs";
  ASSERT_TRUE(wait_until([&] { return notify.find("STATUS=1 lambda(s) running") >= 0; }, 30s));
  ASSERT_TRUE(wait_until(
      [&] {
        const auto m = notify.messages();
        return std::count(m.begin(), m.end(), "WATCHDOG=1") >= 3;
      },
      30s));
  const auto kids = d.children("--segment-fd");
  ASSERT_EQ(kids.size(), 3U);
  for (pid_t k : kids) {
    const std::string env = read_proc_file("/proc/" + std::to_string(k) + "/environ");
    EXPECT_EQ(env.find("NOTIFY_SOCKET="), std::string::npos) << "child " << k;
    EXPECT_EQ(env.find("WATCHDOG_USEC="), std::string::npos) << "child " << k;
  }

  const auto before_reload = notify.messages().size();
  write_lambda(broker.bootstrap(), {.name = "extra", .topic = "events", .workers = 1});
  d.signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return notify.find("RELOADING=1", before_reload) >= 0; }, 30s)) << d.log();
  const long reloading = notify.find("RELOADING=1", before_reload);
  EXPECT_NE(notify.messages()[reloading].find("\nMONOTONIC_USEC="), std::string::npos) << notify.messages()[reloading];
  ASSERT_TRUE(wait_until([&] { return notify.find("READY=1", reloading) >= 0; }, 60s)) << d.log();
  EXPECT_EQ(state_of("extra"), "running") << "READY=1 after a reload only once its new lambda runs";

  d.signal(SIGTERM);
  ASSERT_TRUE(d.wait_exit(60s).has_value());
  EXPECT_GE(notify.find("STOPPING=1"), 0);
}

}  // namespace
}  // namespace sluice::test
