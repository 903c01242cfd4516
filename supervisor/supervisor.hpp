// The supervisor: one thread, one poll loop over a signalfd (SIGCHLD, SIGTERM, SIGINT,
// SIGHUP), the admin API's mailbox and timers. Each lambda's segment and processes are
// its LambdaLifecycle's (lambda_lifecycle.hpp: start, reap, restart, stop); the loop
// drives them all, answers the admin API and tells systemd how things stand.
// Reloads (SIGHUP, POST /reload) and the register API change the set of lambdas while
// it runs: a lambda is replaced by stopping it (drain and commit) and starting it anew.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "supervisor/lambda_lifecycle.hpp"
#include "supervisor/mailbox.hpp"
#include "supervisor/notify.hpp"
#include "supervisor/spawn.hpp"

namespace sluice::supervisor {

class AdminServer;

// Checks of a loaded config that need more than the config library (the Kafka client's
// own judgement of [kafka.properties]); empty when it is fine. Applied at reload and
// register as at start-up.
using ConfigCheck = std::function<std::vector<config::Diagnostic>(const config::Config&)>;

class Supervisor {
 public:
  // cfg.source is the main config file, read again on reload.
  Supervisor(config::Config cfg, Executables exes, ConfigCheck check = {});
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Runs until SIGTERM/SIGINT (exit 0 after a drain) or until every lambda failed (1).
  int run();

 private:
  using Clock = std::chrono::steady_clock;
  // A request that is answered once the lambdas it touched have settled.
  struct Waiter {
    std::set<std::string> names;
    std::shared_ptr<std::promise<AdminResponse>> reply;
    std::function<AdminResponse()> answer;
  };

  LambdaLifecycle& add_lambda(const config::Lambda& cfg);
  void sweep(Now now);  // settles stopped lambdas: starts their new config, forgets removed ones
  void resume(AdminRequest request);
  int poll_timeout_ms() const;
  bool any_running() const;
  void begin_shutdown(const char* why);

  // Reload: re-read the config, apply it; nullopt with the reasons when it is invalid.
  // failure (if given) receives the answer for the admin API.
  std::optional<std::set<std::string>> reload(AdminResponse* failure);
  std::set<std::string> apply(const config::Config& next);
  void serve(AdminRequest request);
  AdminResponse register_lambda(const std::string& name, std::set<std::string>& touched);
  LambdaLifecycle* find(const std::string& name);
  bool settled(const std::string& name);
  void answer_waiters();
  void notify_progress();
  AdminResponse lambdas_json();
  AdminResponse metrics_text();
  AdminResponse health();

  // load() or load_one(), then check_: a ConfigError with every diagnostic.
  config::Config load_checked(const std::string* only_lambda) const;

  config::Config cfg_;
  Executables exes_;
  ConfigCheck check_;
  ProcessSpawner spawner_;
  std::vector<std::unique_ptr<LambdaLifecycle>> lambdas_;
  bool shutting_down_ = false;
  int signal_fd_ = -1;
  Mailbox mailbox_;
  Notifier notifier_;
  std::unique_ptr<AdminServer> admin_;
  std::string admin_file_;
  std::string token_file_;  // the token made for this run, when there is no admin_token_file
  std::vector<Waiter> waiters_;
  bool ready_sent_ = false;
  std::optional<std::set<std::string>> reloading_;  // names a reload waits for, for READY=1
};

}  // namespace sluice::supervisor
