// The `sluice` command as a user runs it: exit codes and messages.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>
#include <fstream>

#include "harness.hpp"

namespace sluice::test {
namespace {
namespace bp = boost::process;
using namespace std::chrono_literals;

CliResult run_sluice(const TempDir& dir, const std::vector<std::string>& args) { return sluice::test::run_sluice(dir.path(), args); }

TEST(Cli, ValidateReportsEveryErrorWithPositionAndExits78) {
  TempDir dir;
  const auto cfg = dir.path() / "bad.toml";
  std::ofstream(cfg) << "bogus = 1\n[kafka]\nbootstrap_servers = \"b:1\"\n[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n"
                        "workers = \"many\"\n[lambda.handler]\ntype = \"plugin\"\npath = \"libx.so\"\n";
  const auto r = run_sluice(dir, {"validate", "-c", cfg.string()});
  EXPECT_EQ(r.status, 78);
  EXPECT_NE(r.err.find(cfg.string() + ":1:1: bogus: unknown key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(cfg.string() + ":7:11: lambda[0].workers: must be an integer, not a string"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("2 error(s)"), std::string::npos) << r.err;
}

// [kafka.properties] are judged by librdkafka itself at validate (and start, reload):
// a misspelt name or a value of the wrong kind used to pass validate and then make the
// consumer crash-loop at run time.
TEST(Cli, ValidateChecksKafkaPropertiesWithLibrdkafka) {
  TempDir dir;
  const auto cfg = dir.path() / "props.toml";
  std::ofstream(cfg) << "[kafka]\nbootstrap_servers = \"b:1\"\n[kafka.properties]\n\"security.protocl\" = \"ssl\"\n"
                        "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.kafka.properties]\n\"fetch.wait.max.ms\" = \"abc\"\n"
                        "\"sasl.password\" = [1]\n[lambda.handler]\ntype = \"plugin\"\npath = \"/etc/hostname\"\n"
                        "[[lambda]]\nname = \"b\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"plugin\"\npath = \"/etc/hostname\"\n";
  auto r = run_sluice(dir, {"validate", "-c", cfg.string()});
  EXPECT_EQ(r.status, 78) << r.out << r.err;
  // The type error is the config library's; once the value is a string, librdkafka's.
  EXPECT_NE(r.err.find(cfg.string() + ":10:19: lambda[0].kafka.properties.sasl.password: must be a string"), std::string::npos)
      << r.err;
  std::ofstream(cfg, std::ios::trunc)
      << "[kafka]\nbootstrap_servers = \"b:1\"\n[kafka.properties]\n\"security.protocl\" = \"ssl\"\n"
         "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.kafka.properties]\n\"fetch.wait.max.ms\" = \"abc\"\n"
         "[lambda.handler]\ntype = \"plugin\"\npath = \"/etc/hostname\"\n"
         "[[lambda]]\nname = \"b\"\ntopics = [\"t\"]\n[lambda.handler]\ntype = \"plugin\"\npath = \"/etc/hostname\"\n";
  r = run_sluice(dir, {"validate", "-c", cfg.string()});
  EXPECT_EQ(r.status, 78) << r.out << r.err;
  EXPECT_NE(r.err.find(cfg.string() + ":4:1: kafka.properties.security.protocl: No such configuration property"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(count_of(r.err, "security.protocl: No such"), 1U) << "reported once, not per lambda: " << r.err;
  EXPECT_NE(r.err.find(cfg.string() + ":9:1: lambda[0].kafka.properties.fetch.wait.max.ms: Invalid value"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("2 error(s)"), std::string::npos) << r.err;
  EXPECT_EQ(run_sluice(dir, {"run", "-c", cfg.string()}).status, 78);
  // Each value fine, the two together refused (librdkafka checks them against each other
  // only when it makes a client): validate passed this, and the consumer crash-looped.
  std::ofstream(cfg, std::ios::trunc)
      << "[kafka]\nbootstrap_servers = \"b:1\"\n"
         "[[lambda]]\nname = \"a\"\ntopics = [\"t\"]\n[lambda.kafka.properties]\n\"fetch.max.bytes\" = \"262144\"\n"
         "\"message.max.bytes\" = \"1000000\"\n[lambda.handler]\ntype = \"plugin\"\npath = \"/etc/hostname\"\n";
  r = run_sluice(dir, {"validate", "-c", cfg.string()});
  EXPECT_EQ(r.status, 78) << r.out << r.err;
  EXPECT_NE(r.err.find(cfg.string() + ":7:1: lambda[0].kafka.properties: librdkafka refuses these properties together: "
                                      "`fetch.max.bytes` must be >= `message.max.bytes`"),
            std::string::npos)
      << r.err;
}

// `--version`, `--log-format` after the subcommand, and a SLUICE_LOG_LEVEL that is not
// a level (spdlog took it as "off": nothing was logged at all).
TEST(Cli, VersionLogFormatAnywhereAndABadLogLevelIsReported) {
  TempDir dir;
  auto r = run_sluice(dir, {"--version"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("sluice ")) << r.out;
  const auto cfg = dir.path() / "bad.toml";
  std::ofstream(cfg) << "[[lambda]]\n";
  r = run_sluice(dir, {"validate", "-c", cfg.string(), "--log-format", "json"});
  EXPECT_EQ(r.status, 78) << "--log-format after the subcommand is accepted: " << r.err;
  ::setenv("SLUICE_LOG_LEVEL", "loud", 1);
  const auto broker = "127.0.0.1:1";
  std::ofstream(cfg, std::ios::trunc) << "runtime_dir = \"" << (dir.path() / "run").string()
                                      << "\"\nadmin_listen = \"\"\n[kafka]\nbootstrap_servers = \"" << broker << "\"\n";
  const auto log = dir.path() / "run.err";
  bp::child c(bp::exe = targets().sluice, bp::args = {"run", "-c", cfg.string()}, bp::std_out > bp::null,
              bp::std_err > log.string());
  ::unsetenv("SLUICE_LOG_LEVEL");
  // Before, a level spdlog did not know silenced everything: nothing would ever come.
  const bool said = wait_until([&] { return read_proc_file(log).find('\n') != std::string::npos; }, 30s);
  const std::string text = read_proc_file(log);
  ::kill(c.id(), SIGTERM);
  c.wait();
  ASSERT_TRUE(said) << "no log line at all";
  EXPECT_NE(text.substr(0, text.find('\n')).find("SLUICE_LOG_LEVEL=\"loud\" is not a level"), std::string::npos) << text;
}

TEST(Cli, RunRefusesABadConfigWith78) {
  TempDir dir;
  const auto cfg = dir.path() / "bad.toml";
  std::ofstream(cfg) << "[[lambda]]\n";
  const auto r = run_sluice(dir, {"run", "-c", cfg.string()});
  EXPECT_EQ(r.status, 78);
  // The daemon's start-up errors carry their priority for journald, as its other lines;
  // validate at a terminal prints plain lines.
  EXPECT_TRUE(r.err.starts_with("<3>")) << r.err;
  EXPECT_NE(r.err.find(cfg.string() + ":1:1: lambda[0]."), std::string::npos) << r.err;
  const auto v = run_sluice(dir, {"validate", "-c", cfg.string()});
  EXPECT_TRUE(v.err.starts_with(cfg.string())) << v.err;
}

// Scenario 17: an unreadable config and a missing handler stop `run` before anything
// starts, each with a message that says what to fix.
TEST(Cli, RunRefusesAnUnreadableConfigAndAMissingHandlerWith78) {
  TempDir dir;
  const auto not_a_file = run_sluice(dir, {"run", "-c", dir.path().string()});
  EXPECT_EQ(not_a_file.status, 78);
  EXPECT_NE(not_a_file.err.find(dir.path().string() + ": cannot read config file: not a regular file"), std::string::npos)
      << not_a_file.err;

  const auto cfg = dir.path() / "missing-handler.toml";
  std::ofstream(cfg) << "instance = \"clim\"\nadmin_listen = \"127.0.0.1:0\"\n[kafka]\nbootstrap_servers = \"127.0.0.1:1\"\n[[lambda]]\nname = \"a\"\n"
                        "topics = [\"t\"]\n[lambda.handler]\ntype = \"plugin\"\npath = \"/nonexistent/liba.so\"\n";
  const auto missing = run_sluice(dir, {"run", "-c", cfg.string()});
  EXPECT_EQ(missing.status, 78);
  EXPECT_NE(missing.err.find(cfg.string() + ":10:8: lambda[0].handler.path: \"/nonexistent/liba.so\": no such file"),
            std::string::npos)
      << missing.err;
  EXPECT_EQ(check_hygiene("clim"), "");
}

TEST(Cli, ValidateAndListAcceptAGoodConfig) {
  TempDir dir;
  const auto cfg = dir.path() / "ok.toml";
  std::ofstream(cfg) << daemon_config("cli", dir.path(), "127.0.0.1:1",
                                      {{.name = "orders", .topic = "orders", .workers = 2}});
  const auto v = run_sluice(dir, {"validate", "-c", cfg.string()});
  EXPECT_EQ(v.status, 0) << v.err;
  const auto l = run_sluice(dir, {"list", "-c", cfg.string()});
  EXPECT_EQ(l.status, 0) << l.err;
  EXPECT_NE(l.out.find("orders"), std::string::npos);
  EXPECT_NE(l.out.find("lambda-orders"), std::string::npos) << l.out;
}

TEST(Cli, SecondDaemonWithTheSameInstanceRefusesToStart) {
  TempDir dir;
  DevBroker broker({"orders:2"});
  const std::string instance = "dup" + std::to_string(getpid());
  const std::string cfg = daemon_config(instance, dir.path(), broker.bootstrap(), {{.name = "o", .topic = "orders", .workers = 1}});
  Daemon first(dir.path(), cfg, "first");
  ASSERT_TRUE(wait_until([&] { return !first.children("consumer").empty(); }, 30s)) << first.log();
  Daemon second(dir.path(), cfg, "second");
  const auto st = second.wait_exit(30s);
  ASSERT_TRUE(st.has_value()) << "the second daemon kept running";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) != 0);
  EXPECT_NE(second.log().find("another sluice daemon with instance \"" + instance + "\" is running"), std::string::npos)
      << second.log();
  EXPECT_FALSE(first.children("consumer").empty()) << "the first daemon must be unaffected";
  first.signal(SIGTERM);
  ASSERT_TRUE(first.wait_exit(60s).has_value());
  EXPECT_EQ(check_hygiene(instance), "");
}

}  // namespace
}  // namespace sluice::test
