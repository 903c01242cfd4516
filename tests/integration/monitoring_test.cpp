// What ships for monitoring (packaging/monitoring): Prometheus accepts the alert rules,
// the exposition passes promtool's lint, and every metric the rules and the Grafana
// dashboard name is one a running daemon exports, so neither goes silently blank when a
// metric is renamed.
#include <gtest/gtest.h>

#include <boost/process.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "daemon_test.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
namespace bp = boost::process;

const fs::path kMonitoring = fs::path(SLUICE_SOURCE_DIR) / "packaging" / "monitoring";

struct Run {
  int status;
  std::string out;
};

// promtool ARGS, with `input` on its stdin.
Run promtool(const std::vector<std::string>& args, const std::string& input = "") {
  bp::opstream in;
  bp::ipstream out;
  bp::child c(bp::search_path("promtool"), bp::args = args, bp::std_in < in, (bp::std_out & bp::std_err) > out);
  in << input;
  in.flush();
  in.pipe().close();
  std::string all, line;
  while (std::getline(out, line)) all += line + "\n";
  c.wait();
  return {c.exit_code(), all};
}

// Every sluice_* / process_* name in a PromQL expression. (A scan rather than
// std::regex: g++ 12 under ASan warns inside <regex>, and warnings are errors.)
std::set<std::string> metric_names(const std::string& expr) {
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; };
  std::set<std::string> out;
  for (std::size_t i = 0; i < expr.size();) {
    if (!word(expr[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < expr.size() && word(expr[j])) ++j;
    const std::string w = expr.substr(i, j - i);
    if (w.starts_with("sluice_") || w.starts_with("process_")) out.insert(w);
    i = j;
  }
  return out;
}

void collect_dashboard(const nlohmann::json& j, std::vector<std::string>& exprs) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if ((k == "expr" || k == "query") && v.is_string()) exprs.push_back(v.get<std::string>());
      collect_dashboard(v, exprs);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) collect_dashboard(v, exprs);
  }
}

class Monitoring : public DaemonTest {};

TEST_F(Monitoring, AlertRulesAndDashboardNameOnlyMetricsSluiceExports) {
  const fs::path rules = kMonitoring / "sluice-alerts.yml";
  const auto checked = promtool({"check", "rules", rules.string()});
  EXPECT_EQ(checked.status, 0) << checked.out;

  DevBroker broker({"events:4", "events.dlq:1"});
  produce(broker.bootstrap(), "events", 4, 0, 100);
  Daemon d(dir.path(), daemon_config(instance, dir.path(), broker.bootstrap(),
                                     {{.name = "m", .topic = "events", .workers = 1,
                                       .extra = "dead_letter_topic = \"events.dlq\"\n"}}));
  ASSERT_TRUE(wait_until([&] { return committed_to_end(broker.bootstrap(), "lambda-m", 100, 4); }, 120s))
      << d.log();
  // Broker state arrives with the consumer's first statistics report.
  std::string scrape;
  ASSERT_TRUE(wait_until(
      [&] {
        scrape = admin(dir.path(), instance, "GET", "/metrics").body;
        return scrape.find("sluice_broker_connected{") != std::string::npos;
      },
      30s));
  const auto lint = promtool({"check", "metrics"}, scrape);
  EXPECT_EQ(lint.status, 0) << lint.out;

  std::set<std::string> exported;
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) exported.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  auto known = [&](const std::string& n) {
    if (exported.contains(n)) return true;
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (n.ends_with(suffix) && exported.contains(n.substr(0, n.size() - suffix.size()))) return true;
    }
    return false;
  };

  std::vector<std::string> exprs;
  std::istringstream rule_lines(read_file(rules));
  for (std::string line; std::getline(rule_lines, line);) {
    if (const auto at = line.find("expr:"); at != std::string::npos) exprs.push_back(line.substr(at + 5));
  }
  EXPECT_GE(exprs.size(), 8U) << "alert rules: lag, failed, degraded, broker down, stopped, dead letters, crash loop...";
  const auto dashboard = nlohmann::json::parse(read_file(kMonitoring / "sluice-dashboard.json"), nullptr, false);
  ASSERT_FALSE(dashboard.is_discarded()) << "the dashboard is not JSON";
  ASSERT_TRUE(dashboard.contains("panels"));
  const std::size_t rule_exprs = exprs.size();
  collect_dashboard(dashboard, exprs);
  EXPECT_GE(exprs.size() - rule_exprs, 6U) << "dashboard queries";
  std::size_t names = 0;
  for (const auto& e : exprs) {
    for (const auto& n : metric_names(e)) {
      ++names;
      EXPECT_TRUE(known(n)) << n << " (in \"" << e << "\") is not a metric sluice exports";
    }
  }
  EXPECT_GT(names, 20U);
  expect_clean_stop(d, instance);
}

}  // namespace
}  // namespace sluice::test
