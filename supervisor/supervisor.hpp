// The supervisor: one thread, one poll loop over a signalfd (SIGCHLD, SIGTERM, SIGINT,
// SIGHUP) and timers. It creates each lambda's segment, starts the consumer and workers
// as processes, reaps every child, and restarts them (DESIGN §6):
//  * a worker alone (one_for_one): the replacement resumes at its ring's read position;
//  * a consumer with its workers (rest_for_one): rings are reset, Kafka redelivers
//    everything uncommitted;
//  * with exponential backoff, and more than max_restarts in restart_window_s marks the
//    lambda failed while the others keep running.
#pragma once

#include <boost/process/child.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "shm/segment.hpp"

namespace sluice::supervisor {

class Supervisor {
 public:
  Supervisor(config::Config cfg, std::string self_exe);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Runs until SIGTERM/SIGINT (exit 0 after a drain) or until every lambda failed (1).
  int run();

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { kRunning, kStopping, kStopped, kFailed };

  struct Proc {
    std::optional<boost::process::child> child;
    std::optional<Clock::time_point> restart_at;
    Clock::time_point started{};
    bool timeout_kill_sent = false;
  };
  struct Lambda {
    config::Lambda cfg;
    std::optional<shm::Segment> seg;
    Proc consumer;
    std::vector<Proc> workers;
    State state = State::kRunning;
    bool failing = false;  // stopping because of restart intensity
    std::deque<Clock::time_point> restarts;
    std::uint32_t consecutive = 0;
    Clock::time_point last_failure{};
    std::optional<Clock::time_point> stop_deadline;
  };

  void start_lambda(Lambda& l);
  void spawn_consumer(Lambda& l);
  void spawn_worker(Lambda& l, std::uint32_t slot);
  void reap();
  void on_exit(Lambda& l, bool consumer, std::uint32_t slot, int status);
  void stop_lambda(Lambda& l, bool failing);
  void finish_stop(Lambda& l);
  bool note_restart(Lambda& l);
  std::chrono::milliseconds next_backoff(Lambda& l);
  void check_timers();
  void check_hung_handlers(Lambda& l);
  int poll_timeout_ms() const;
  bool any_running() const;

  config::Config cfg_;
  std::string self_exe_;
  std::vector<std::unique_ptr<Lambda>> lambdas_;
  bool shutting_down_ = false;
  int signal_fd_ = -1;
};

}  // namespace sluice::supervisor
