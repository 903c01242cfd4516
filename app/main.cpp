// The `sluice` command. The supervisor starts each consumer by exec of this same binary
// (`sluice consumer`) and each worker from its own small executable (app/worker_main.cpp).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>

#include "app/admin_client.hpp"
#include "app/dev_broker.hpp"
#include "app/logging.hpp"
#include "app/offsets_cmd.hpp"
#include "config/config.hpp"
#include "consumer/consumer.hpp"
#include "supervisor/supervisor.hpp"

#ifndef SLUICE_LIBEXEC_FROM_BIN
#define SLUICE_LIBEXEC_FROM_BIN "../libexec/sluice"
#endif
#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

namespace {

using sluice::config::kExitConfig;

// The whole configuration, librdkafka's view of its [kafka.properties] included; or, for
// the commands that only talk to a running daemon (`lambdas_too` false), the main file
// alone: a broken lambda file must not keep `sluice status` from showing what runs.
// `to_log`: through the logger (the daemon, and anything whose stderr is the journal, as
// `ExecStartPre=sluice validate` is): each error then carries its priority, so
// `journalctl -p err` shows why the unit did not start. Plain lines for a terminal.
std::optional<sluice::config::Config> load_or_report(const std::string& path, bool lambdas_too, bool to_log) {
  try {
    if (!lambdas_too) return sluice::config::load_one(path, "");
    auto c = sluice::config::load(path);
    if (auto diags = sluice::kafka::check_properties(c); !diags.empty()) throw sluice::config::ConfigError(std::move(diags));
    return c;
  } catch (const sluice::config::ConfigError& e) {
    if (to_log) {
      for (const auto& d : e.diagnostics()) spdlog::error("{}", d.str());
      spdlog::error("{} error(s) in the configuration", e.diagnostics().size());
    } else {
      for (const auto& d : e.diagnostics()) std::cerr << d.str() << "\n";
      std::cerr << e.diagnostics().size() << " error(s) in the configuration\n";
    }
  }
  return std::nullopt;
}

// The worker executables sit next to `sluice` in a build tree and in libexec once
// installed (/usr/bin/sluice -> /usr/libexec/sluice/). Checked at start-up: a missing one
// would otherwise show up as workers failing to start, one restart at a time.
sluice::supervisor::Executables find_executables() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find my own executable: " + ec.message());
  const fs::path libexec = (self.parent_path() / SLUICE_LIBEXEC_FROM_BIN).lexically_normal();
  auto helper = [&](const std::string& name) {
    for (const fs::path& p : {self.parent_path() / name, libexec / name}) {
      if (access(p.c_str(), X_OK) == 0) return p.string();
    }
    throw std::runtime_error("cannot find the " + name + " executable next to " + self.string() + " or in " +
                             libexec.string() + "; is sluice installed completely?");
  };
  return {self.string(), helper("sluice-worker"), helper("sluice-http-worker")};
}

std::string handler_summary(const sluice::config::Handler& h) {
  switch (h.type) {
    case sluice::config::HandlerType::kPlugin: return "plugin " + h.path;
    case sluice::config::HandlerType::kPython: return "python " + h.path + " " + h.function;
    case sluice::config::HandlerType::kHttp: return "http " + sluice::config::redact_url(h.url);
    case sluice::config::HandlerType::kExec: {
      std::string s = "exec";
      for (const auto& a : h.command) s += " " + a;
      return s;
    }
  }
  return "?";
}

int cmd_list(const sluice::config::Config& c) {
  std::printf("%-20s %-30s %-28s %-8s %s\n", "LAMBDA", "TOPICS", "GROUP", "WORKERS", "HANDLER");
  for (const auto& l : c.lambdas) {
    std::string topics;
    for (const auto& t : l.topics) {
      if (!topics.empty()) topics += ',';
      topics += t;
    }
    std::printf("%-20s %-30s %-28s %-8u %s\n", l.name.c_str(), topics.c_str(), l.group_id.c_str(), l.workers,
                handler_summary(l.handler).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice: Kafka triggers for lambdas", "sluice"};
  app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  // Options of the whole program (--log-format) also after the subcommand: subcommands
  // made from here on hand what they do not know to their parent.
  app.fallthrough();
  app.require_subcommand(1);
  std::string log_format;
  app.add_option("--log-format", log_format, "Log lines as \"text\" (with systemd priority prefixes) or \"json\"")
      ->check(CLI::IsMember({"text", "json"}));
  std::string config_path = sluice::config::default_path().string();

  auto* run = app.add_subcommand("run", "Run the daemon: consume every lambda's topics and invoke its handler");
  run->add_option("-c,--config", config_path, "Main config file")->capture_default_str();
  auto* validate = app.add_subcommand("validate", "Check the configuration; exit 78 listing every error");
  validate->add_option("-c,--config", config_path, "Main config file")->capture_default_str();
  auto* list = app.add_subcommand("list", "List the configured lambdas");
  list->add_option("-c,--config", config_path, "Main config file")->capture_default_str();

  bool wait = false;
  auto* reload = app.add_subcommand("reload", "Ask the running daemon to re-read its configuration");
  reload->add_option("-c,--config", config_path, "Main config file")->capture_default_str();
  reload->add_flag("--wait", wait, "Return once the changed lambdas have stopped and started again");
  bool status_json = false;
  auto* status = app.add_subcommand("status", "Lambdas, states, restarts, partitions and lag of the running daemon");
  status->add_option("-c,--config", config_path, "Main config file")->capture_default_str();
  status->add_flag("--json", status_json, "Print the admin API's JSON");

  std::string register_lambda;
  auto* reg = app.add_subcommand("register", "(Re)start a lambda from its file, as POST /kafka/register/<name>");
  reg->add_option("-c,--config", config_path, "Main config file")->capture_default_str();
  reg->add_option("lambda", register_lambda, "Lambda name")->required();
  auto* dereg = app.add_subcommand("deregister", "Stop a lambda until it is registered again, as DELETE /kafka/register/<name>");
  dereg->add_option("-c,--config", config_path, "Main config file")->capture_default_str();
  dereg->add_option("lambda", register_lambda, "Lambda name")->required();

  std::string resume_lambda, resume_topic;
  int resume_partition = -1;
  auto* resume = app.add_subcommand("resume", "Retry partitions stopped at a failed record (on_failure = \"stop\")");
  resume->add_option("-c,--config", config_path, "Main config file")->capture_default_str();
  resume->add_option("lambda", resume_lambda, "Lambda name")->required();
  resume->add_option("--topic", resume_topic, "Only this topic's stopped partitions");
  resume->add_option("--partition", resume_partition, "Only this partition (with --topic)")
      ->check(CLI::NonNegativeNumber)
      ->needs("--topic");

  auto* offsets = app.add_subcommand("offsets", "Inspect a lambda's consumer group offsets");
  offsets->require_subcommand(1);
  std::string offsets_lambda;
  auto* offsets_show = offsets->add_subcommand("show", "Committed offset, end offset and lag per partition");
  offsets_show->add_option("-c,--config", config_path, "Main config file")->capture_default_str();
  offsets_show->add_option("--lambda", offsets_lambda, "Lambda name")->required();
  sluice::app::ResetOptions reset_opts;
  auto* offsets_reset = offsets->add_subcommand(
      "reset", "Move a lambda's committed offsets (a dry run unless --execute; refused while the lambda runs)");
  offsets_reset->add_option("-c,--config", config_path, "Main config file")->capture_default_str();
  offsets_reset->add_option("--lambda", reset_opts.lambda, "Lambda name")->required();
  offsets_reset->add_flag("--to-earliest", reset_opts.to_earliest, "To the start of each partition's log");
  offsets_reset->add_flag("--to-latest", reset_opts.to_latest, "To the end of each partition");
  offsets_reset->add_option("--to-offset", reset_opts.to_offset, "To this offset (clamped to the log)");
  offsets_reset->add_option("--to-datetime", reset_opts.to_datetime,
                            "To the first record at or after this time (2026-11-23T10:00:00Z, or ms since the epoch)");
  offsets_reset->add_option("--shift-by", reset_opts.shift_by, "Move each committed offset by N (negative: back)");
  offsets_reset->add_option("--topic", reset_opts.topic, "Only this topic, or TOPIC:PARTITION");
  offsets_reset->add_flag("--execute", reset_opts.execute, "Commit the new offsets (otherwise only print them)");

  int brokers = 1;
  std::vector<std::string> topics;
  auto* dev = app.add_subcommand("dev-broker", "Run an in-process Kafka mock cluster for development and tests");
  dev->add_option("--brokers", brokers, "Number of brokers")->check(CLI::Range(1, 16))->capture_default_str();
  dev->add_option("--topic", topics, "Topic to create, as NAME:PARTITIONS (repeatable)");
  std::string dev_debug;
  dev->add_option("--debug", dev_debug,
                  "librdkafka debug contexts logged on stderr, e.g. mock (the cluster's own view: group states, "
                  "members joining and timing out); slows the cluster down");

  auto* version = app.add_subcommand("version", "Print the version");

  std::string consumer_lambda;
  int segment_fd = -1;
  int layout_fd = -1;
  auto* consumer = app.add_subcommand("consumer", "(internal) consumer process of one lambda");
  consumer->group("");
  std::string consumer_instance;
  consumer->add_option("--instance", consumer_instance);  // for ps: which daemon it belongs to
  consumer->add_option("--lambda", consumer_lambda)->required();
  consumer->add_option("--segment-fd", segment_fd)->required();
  consumer->add_option("--layout-fd", layout_fd)->required();
  int control_fd = -1;
  consumer->add_option("--control-fd", control_fd);
  int config_fd = -1;
  consumer->add_option("--config-fd", config_fd)->required();
  int carried_fd = -1;
  consumer->add_option("--carried-fd", carried_fd);

  CLI11_PARSE(app, argc, argv);
  if (!log_format.empty()) sluice::app::set_log_format(log_format);

  try {
    if (*version) {
      std::printf("sluice %s\n", SLUICE_VERSION);
      return 0;
    }
    if (*consumer) {
      sluice::app::init_logging("consumer " + consumer_lambda);
      return sluice::consumer::run_consumer(consumer_lambda, segment_fd, layout_fd, control_fd, config_fd, carried_fd);
    }
    if (*dev) {
      sluice::app::init_logging("dev-broker");
      return sluice::app::run_dev_broker(brokers, topics, dev_debug);
    }
    sluice::app::init_logging("supervisor");
    // Absolute, so a reload finds the same files whatever the working directory.
    auto cfg = load_or_report(std::filesystem::absolute(config_path).lexically_normal().string(),
                              !(*reload || *status || *resume || *reg || *dereg),
                              *run || std::getenv("JOURNAL_STREAM") != nullptr);
    if (!cfg) return kExitConfig;
    if (*run || *validate) {
      for (const auto& w : cfg->warnings) spdlog::warn("{}", w);
    }
    if (*validate) {
      std::printf("%s: OK, %zu lambda(s)\n", config_path.c_str(), cfg->lambdas.size());
      return 0;
    }
    if (*list) return cmd_list(*cfg);
    if (*reload) return sluice::app::cmd_reload(*cfg, wait);
    if (*status) return sluice::app::cmd_status(*cfg, status_json);
    if (*resume) return sluice::app::cmd_resume(*cfg, resume_lambda, resume_topic, resume_partition);
    if (*reg || *dereg) return sluice::app::cmd_register(*cfg, register_lambda, reg->parsed());
    if (*offsets_show) return sluice::app::cmd_offsets_show(*cfg, offsets_lambda);
    if (*offsets_reset) return sluice::app::cmd_offsets_reset(*cfg, reset_opts);
    if (*run) {
      sluice::supervisor::Supervisor sup(std::move(*cfg), find_executables(),
                                         [](const sluice::config::Config& c) { return sluice::kafka::check_properties(c); });
      return sup.run();
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
