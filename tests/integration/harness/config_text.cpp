#include "harness/config_text.hpp"

#include <sstream>
#include <stdexcept>

#include "harness/targets.hpp"

namespace sluice::test {

std::string with(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::invalid_argument("no \"" + from + "\" to replace");
  return text.replace(at, from.size(), to);
}

std::string daemon_config(const std::string& instance, const fs::path& dir, const std::string& bootstrap,
                          const std::vector<LambdaSpec>& lambdas) {
  std::ostringstream o;
  o << "instance = \"" << instance << "\"\n"
    << "runtime_dir = \"" << (dir / "run").string() << "\"\n"
    << "lambdas_dir = \"" << (dir / "lambdas.d").string() << "\"\n"
    << "admin_listen = \"127.0.0.1:0\"\n"
    << "shutdown_timeout_ms = 30000\n"
    << "[supervisor]\nrestart_backoff_min_ms = 50\nrestart_backoff_max_ms = 1000\nmax_restarts = 100\nrestart_window_s = 60\n"
    << "[kafka]\nbootstrap_servers = \"" << bootstrap << "\"\n"
    << "[kafka.properties]\n\"fetch.wait.max.ms\" = \"10\"\n\"session.timeout.ms\" = \"6000\"\n"
    << "\"heartbeat.interval.ms\" = \"500\"\n\"topic.metadata.refresh.interval.ms\" = \"1000\"\n";
  fs::create_directories(dir / "outcomes");
  for (const auto& l : lambdas) {
    o << "[[lambda]]\nname = \"" << l.name << "\"\ntopics = [\"" << l.topic << "\"]\nworkers = " << l.workers
      << "\nordering = \"" << l.ordering << "\"\ncommit_interval_ms = 200\ndrain_timeout_ms = 20000\n"
      << l.extra << "\n[lambda.handler]\n";
    if (!l.handler.empty()) {
      o << l.handler << "\n";
      continue;
    }
    o << "type = \"plugin\"\npath = \"" << targets().recorder_plugin << "\"\n"
      << l.handler_extra << "\n[lambda.handler.options]\nlog_dir = \"" << (dir / "outcomes").string()
      << "\"\nsleep_us = \"" << l.sleep_us << "\"\n" << l.options << "\n";
  }
  return o.str();
}

std::string lambda_file(const fs::path& dir, const std::string& bootstrap, const LambdaSpec& lambda) {
  const std::string all = daemon_config("x", dir, bootstrap, {lambda});
  return "[lambda]" + all.substr(all.find("[[lambda]]") + std::string("[[lambda]]").size());
}

}  // namespace sluice::test
