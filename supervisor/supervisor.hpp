// The supervisor: one thread, one poll loop over a signalfd (SIGCHLD, SIGTERM, SIGINT,
// SIGHUP), the admin API's mailbox and timers. It creates each lambda's segment, starts
// the consumer and workers as processes, reaps every child, and restarts them:
//  * a worker alone (one_for_one): the replacement resumes at its ring's read position;
//  * a consumer with its workers (rest_for_one): rings are reset, Kafka redelivers
//    everything uncommitted;
//  * with exponential backoff, and more than max_restarts in restart_window_s marks the
//    lambda failed while the others keep running.
// Reloads (SIGHUP, POST /reload) and the register API change the set of lambdas while
// it runs: a lambda is replaced by stopping it (drain and commit) and starting it anew.
#pragma once

#include <boost/process/child.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "shm/carried_attempts.hpp"
#include "shm/segment.hpp"
#include "supervisor/child_output.hpp"
#include "supervisor/mailbox.hpp"
#include "supervisor/notify.hpp"
#include "supervisor/reload_plan.hpp"
#include "supervisor/report.hpp"
#include "supervisor/restart_policy.hpp"
#include "supervisor/spawn.hpp"

namespace sluice::supervisor {

class AdminServer;

// What the supervisor starts: `sluice consumer …` from the sluice executable, workers
// from sluice-worker (plugin, exec) or sluice-http-worker (http).
struct Executables {
  std::string sluice;
  std::string worker;
  std::string http_worker;
};

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
  using State = LambdaState;

  struct Proc {
    std::optional<boost::process::child> child;
    std::optional<Clock::time_point> restart_at;
    Clock::time_point started{};
    bool timeout_kill_sent = false;
    // The consumer quarantined this worker's ring: once the worker is dead, reset the
    // rings, tell the consumer, then restart the worker (shm/control_channel.hpp).
    bool reset_pending = false;
    // The worker exited saying its ring is corrupt: wait for the consumer's quarantine.
    bool awaiting_quarantine = false;
    // A worker's stdout and stderr (supervisor/child_output.hpp); kept after it ended
    // until everything it wrote was read.
    std::optional<ChildOutput> output;
  };
  struct StartWith {
    config::Lambda cfg;
  };
  struct Remove {};
  struct StayStopped {};
  struct Lambda {
    config::Lambda cfg;
    std::optional<shm::Segment> seg;
    Proc consumer;
    shm::UniqueFd control;  // our end of the current consumer's channel
    // The whole resolved config, Kafka credentials included, sealed, for the consumer
    // only: the segment's copy (which workers read) leaves the Kafka settings out.
    shm::UniqueFd consumer_config;
    std::vector<Proc> workers;
    // Changed only by transition(). kStarting while the lambda is active (its processes
    // are kept running): whether it is starting or running is read live (state_of()),
    // never stored, since a process may end between two passes.
    State state = State::kStarting;
    bool failing = false;  // stopping because of restart intensity
    RestartPolicy restarts;
    std::string failure;  // why it is failed
    std::optional<Clock::time_point> stop_deadline;
    // What to do once it has stopped: nothing (it failed, or sluice is stopping), start
    // it with a new config (reload, register), forget it (gone from the config), or keep
    // it stopped until it is registered again (DELETE /kafka/register).
    std::variant<std::monostate, StartWith, Remove, StayStopped> after_stop;
    std::uint64_t worker_restarts = 0;
    std::uint64_t consumer_restarts = 0;
    std::deque<std::shared_ptr<std::promise<AdminResponse>>> resumes;  // asked of the consumer, in order
    // What the workers had tried of the records in the rings when the consumer ended,
    // for the next consumer (shm/carried_attempts.hpp).
    std::vector<shm::CarriedAttempt> carried;
  };
  // A request that is answered once the lambdas it touched have settled.
  struct Waiter {
    std::set<std::string> names;
    std::shared_ptr<std::promise<AdminResponse>> reply;
    std::function<AdminResponse()> answer;
  };

  Lambda& add_lambda(const config::Lambda& cfg);
  void make_segment(Lambda& l);
  void replace(Lambda& l, const config::Lambda& cfg);
  void start_lambda(Lambda& l);
  void spawn_consumer(Lambda& l);
  void spawn_worker(Lambda& l, std::uint32_t slot);
  void reap();
  // Logs what the workers wrote to their stdout and stderr.
  void on_exit(Lambda& l, bool consumer, std::uint32_t slot, int status, pid_t pid);
  void stop_lambda(Lambda& l, bool failing);
  void finish_stop(Lambda& l);
  void sweep();
  bool note_restart(Lambda& l, const std::string& how, bool started);
  void track_readiness();
  void check_timers();
  void check_hung_handlers(Lambda& l);
  void check_consumer_progress(Lambda& l);
  void serve_control(Lambda& l);
  void reset_worker_rings(Lambda& l, std::uint32_t slot);
  void resume(AdminRequest request);
  void answer_resumes(Lambda& l, const std::string& why);
  int poll_timeout_ms() const;
  bool any_running() const;
  void begin_shutdown(const char* why);

  // Reload: re-read the config, apply it; nullopt with the reasons when it is invalid.
  // failure (if given) receives the answer for the admin API.
  std::optional<std::set<std::string>> reload(AdminResponse* failure);
  std::set<std::string> apply(const config::Config& next);
  void serve(AdminRequest request);
  AdminResponse register_lambda(const std::string& name, std::set<std::string>& touched);
  Lambda* find(const std::string& name);
  bool ready(const Lambda& l) const;
  bool settled(const std::string& name);
  LambdaState state_of(const Lambda& l) const;
  static const config::Lambda* next_config(const Lambda& l);  // the config it starts with once stopped, if any
  static bool deregistered(const Lambda& l) { return std::holds_alternative<StayStopped>(l.after_stop); }
  static bool removing(const Lambda& l) { return std::holds_alternative<Remove>(l.after_stop); }
  // Starting or running: its processes are kept up.
  static bool active(const Lambda& l);
  void transition(Lambda& l, State to);
  void answer_waiters();
  void notify_progress();
  LambdaReport report_of(const Lambda& l) const;
  AdminResponse lambdas_json();
  AdminResponse metrics_text();
  AdminResponse health();

  // load() or load_one(), then check_: a ConfigError with every diagnostic.
  config::Config load_checked(const std::string* only_lambda) const;

  config::Config cfg_;
  Executables exes_;
  ConfigCheck check_;
  ChildEnvironment child_env_;   // the consumer's: ours without systemd's notify variables
  ChildEnvironment worker_env_;  // the workers': only what passes_to_workers() lets through
  std::vector<std::unique_ptr<Lambda>> lambdas_;
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
