// Handler type "python": sluice's Python runner inside the worker process. Its outcomes,
// crashes and hangs are checked next to the exec runner's (exec_handler_test.cpp).
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "daemon_test.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
constexpr int kPartitions = 8;

class PythonInWorker : public DaemonTest {
 protected:
  // `file`'s `function` in the worker, timeout_ms 1000, with `env` (TOML lines) in its
  // environment; the runner comes from the source tree.
  static std::string handler(const std::string& file, const std::string& env, const std::string& function = "") {
    return "type = \"python\"\npath = \"" + file + "\"\n" + (function.empty() ? "" : "function = \"" + function + "\"\n") +
           "timeout_ms = 1000\n[lambda.handler.env]\nPYTHONPATH = \"" SLUICE_SOURCE_DIR "/worker/python\"\n" + env;
  }
};

// The function runs in the worker itself, gets the json envelope as the exec runner
// would give it, and leaves the worker's signals and log as they were.
TEST_F(PythonInWorker, TheFunctionRunsInTheWorkerWhoseSignalsAndLogStayItsOwn) {
  DevBroker broker({"events:1"});
  produce_exact(broker.bootstrap(), "events", 0, "k", "{\"n\": 12345678901234567890}", {});
  const fs::path out = dir.path() / "seen.json";
  // Written for the exec runner, it sets a SIGTERM handler as it loads.
  std::ofstream(dir.path() / "seen.py") << "import json, os, signal\n"
                                           "signal.signal(signal.SIGTERM, lambda *_: open(os.environ['OUT'] + '.term', 'w').close())\n"
                                           "def handle(event, context):\n"
                                           "    print('seen', event['offset'], '\\udcff', end='\\r\\n')\n"
                                           "    with open(os.environ['OUT'], 'w') as o:\n"
                                           "        json.dump({'event': event, 'attempt': context.attempt, 'pid': os.getpid()}, o)\n";
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "seen", .topic = "events", .workers = 1, .extra = "format = \"json\"\n",
                           .handler = handler((dir.path() / "seen.py").string(), "OUT = \"" + out.string() + "\"\n", "handle")}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-seen", 1, 1); }, 60s)) << d.log();
  std::ifstream in(out);
  ASSERT_TRUE(in.good()) << "the function never ran\n" << d.log();
  const auto seen = nlohmann::json::parse(in);
  EXPECT_EQ(seen["attempt"], 1);
  // What it prints is sluice's log, a line at a time, named as an exec handler's is.
  // Text that is not UTF-8 is escaped, not the record's failure.
  EXPECT_NE(d.log().find("[worker seen/0] handler: seen 0 \\\\udcff\n"), std::string::npos) << d.log();
  // The json envelope, its message parsed, every digit of the number kept.
  EXPECT_EQ(seen["event"]["topic"], "events");
  EXPECT_EQ(seen["event"]["key"], "k");
  EXPECT_EQ(seen["event"]["message"]["n"].dump(), "12345678901234567890");
  // In the worker itself: no process of its own.
  const int pid = seen["pid"].get<int>();
  const fs::path exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe");
  ASSERT_EQ(exe.filename(), "sluice-worker") << "the function ran in " << exe;
  // The worker's signals stay its own: a SIGTERM (systemd's to every process of the
  // unit) is ignored as by any worker, not run as the function's handler at its next call.
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  produce_exact(broker.bootstrap(), "events", 0, "k", "2", {});
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-seen", 2, 1); }, 60s)) << d.log();
  EXPECT_FALSE(fs::exists(out.string() + ".term")) << "the function's SIGTERM handler ran in the worker";
  std::ifstream again(out);
  EXPECT_EQ(nlohmann::json::parse(again)["pid"], pid) << "the same worker handles the next record\n" << d.log();
  expect_clean_stop(d);
}

// sys.exit() in the function ends a child under exec; inside the worker it must not end
// the worker (nor its other records): it is that record's retry, named as raised.
TEST_F(PythonInWorker, SysExitInTheFunctionIsItsRecordsRetryNotTheWorkersEnd) {
  DevBroker broker({"events:1", "events-dlq:1"});
  std::ofstream(dir.path() / "exits.py") << "import sys\n"
                                            "def f(event):\n"
                                            "    if event == 'exit':\n"
                                            "        sys.exit(3)\n";
  Daemon d(dir.path(),
           daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "exits", .topic = "events", .workers = 1,
                           .extra = "max_attempts = 2\nretry_backoff_ms = [10, 10]\ndead_letter_topic = \"events-dlq\"\n",
                           .handler = handler((dir.path() / "exits.py").string(), "")}}));
  for (const char* value : {"a", "exit", "b"}) produce_exact(broker.bootstrap(), "events", 0, "k", value, {});
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-exits", 3, 1); }, 60s)) << d.log();
  const auto dlq = read_topic(broker.bootstrap(), "events-dlq", 1, 30s);
  ASSERT_EQ(dlq.size(), 1U) << d.log();
  EXPECT_EQ(dlq[0].value, std::optional<std::string>("exit"));
  EXPECT_EQ(dlq[0].headers.at("sluice-error"), "python handler: SystemExit: 3");
  EXPECT_EQ(dlq[0].headers.at("sluice-attempts"), "2");
  EXPECT_EQ(count_of(d.log(), "restarting worker"), 0U) << d.log();
  expect_clean_stop(d);
}

// A file that does not define the function fails its lambda with the reason in the log,
// not a crash loop, and the other lambda keeps running.
TEST_F(PythonInWorker, AFileWithoutTheFunctionFailsItsLambdaWithTheReason) {
  constexpr std::uint64_t kCount = 100;
  DevBroker broker({"events:8"});
  produce(broker.bootstrap(), "events", kPartitions, 0, kCount);
  std::ofstream(dir.path() / "empty.py") << "x = 1\n";
  const std::string cfg =
      with(daemon_config(instance, dir.path(), broker.bootstrap(),
                         {{.name = "nope", .topic = "events", .workers = 1, .handler = handler((dir.path() / "empty.py").string(), "")},
                          {.name = "good", .topic = "events", .workers = 1}}),
           "max_restarts = 100", "max_restarts = 100\nstart_attempts = 3");
  Daemon d(dir.path(), cfg);
  ASSERT_TRUE(wait_until([&] { return d.log().find("lambda nope: cannot start: 3 start(s) in a row") != std::string::npos; }, 60s))
      << d.log();
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-good", kCount, kPartitions); }, 120s))
      << d.log();
  EXPECT_NE(d.log().find("python handler: sluice_handler: " + (dir.path() / "empty.py").string() + " defines no function f"),
            std::string::npos)
      << d.log();
  EXPECT_EQ(committed_sum(broker.bootstrap(), "lambda-nope"), 0);
  expect_clean_stop(d);
}

}  // namespace
}  // namespace sluice::test
