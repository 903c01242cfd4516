// One lambda's life under the supervisor: its segment, its consumer and workers, and the
// state they make together. It starts the processes (workers first, then the consumer),
// reaps them, restarts them —
//  * a worker alone (one_for_one): the replacement resumes at its ring's read position;
//  * a consumer with its workers (rest_for_one): rings are reset, Kafka redelivers
//    everything uncommitted;
//  * after RestartPolicy's backoff, and gives the lambda up (failed) when its processes
//    end too often —
// stops them in order (the consumer drains and commits, then the workers go), kills what
// outlives shutdown_timeout_ms, a handler past its timeout and a consumer that stopped
// making progress, and answers the consumer's quarantine of a broken ring.
//
// Time is what the caller says it is (Now), and processes come from a Spawner, so unit
// tests drive every transition with a fake spawner and a clock they move.
//
//            start                  every process up
//   ──────▶ Starting ─────────────────────────────▶ Running   (read live: ready())
//              │  ▲ a process ended: restart after backoff     │
//              │  └────────────────────────────────────────────┘
//              │ stop() / too many restarts or failed starts
//              ▼
//           Stopping ── every process gone ──▶ Stopped, or Failed when it was given up
//                                                 │ settle(): start a new config, or be forgotten
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "shm/carried_attempts.hpp"
#include "shm/control_channel.hpp"
#include "shm/segment.hpp"
#include "shm/unique_fd.hpp"
#include "supervisor/child.hpp"
#include "supervisor/child_output.hpp"
#include "supervisor/lambda_state.hpp"
#include "supervisor/mailbox.hpp"
#include "supervisor/report.hpp"
#include "supervisor/restart_policy.hpp"

namespace sluice::supervisor {

// What the supervisor starts: `sluice consumer …` from the sluice executable, workers
// from sluice-worker (plugin, exec) or sluice-http-worker (http, or any lambda that
// decodes with a schema registry).
struct Executables {
  std::string sluice;
  std::string worker;
  std::string http_worker;
};

// The two clocks a lifecycle reads: steady time for its own timers, and the segment's
// clock (shm/clock.hpp) to compare with the times the processes wrote there.
struct Now {
  std::chrono::steady_clock::time_point at;
  std::uint64_t mono_ns = 0;
  static Now read();
};

class LambdaLifecycle {
 public:
  using Clock = std::chrono::steady_clock;
  using Reply = std::shared_ptr<std::promise<AdminResponse>>;

  // `daemon` (instance name, restart limits, shutdown_timeout_ms) and `spawner` outlive
  // the lifecycle. Call start() to make the segment and start the processes.
  LambdaLifecycle(const config::Config& daemon, const Executables& exes, Spawner& spawner, config::Lambda cfg);
  ~LambdaLifecycle();  // answers what waits on the consumer, kills and reaps every process
  LambdaLifecycle(const LambdaLifecycle&) = delete;
  LambdaLifecycle& operator=(const LambdaLifecycle&) = delete;

  // Makes its segment and starts its processes; failed (with the reason) when either
  // cannot be done: one lambda that cannot start must not take the others down.
  void start(Now now);
  // One pass of the supervisor's loop, in this order.
  void reap(Now now);           // children that ended: restart, fail, or finish a stop
  void serve_control(Now now);  // the consumer's messages (quarantines, resumes)
  void check_timers(Now now);   // restarts due, stop deadline, hung handlers, a stalled consumer
  void observe(Now now);        // restart intensity: whether every process is up
  // Once stopped or failed: does what it stopped for (starts its new config unless
  // `shutting_down`). False when the lambda is to be forgotten.
  bool settle(bool shutting_down, Now now);

  // Asks it to stop: the consumer drains and commits, then the workers stop. What to do
  // once stopped: nothing (stop), start `next` (replace), forget it (remove), keep it
  // stopped until registered again (deregister).
  void stop(Now now) { stop_processes(false, now); }
  void replace(config::Lambda next, Now now);
  void remove(Now now);
  void deregister(Now now);
  void shutdown(Now now);  // sluice stops: no new config is started
  void keep_config(config::Lambda cfg) { cfg_ = std::move(cfg); }  // deregistered: for when it is registered again
  void reconfigure(const config::Restart& limits) { restarts_.reconfigure(limits); }

  // The consumer's resume of stopped partitions; `reply` is answered when the consumer
  // says how many it resumed, or when it can no longer say. False when it cannot be asked.
  bool can_resume() const { return active() && control_; }
  bool resume(const shm::ControlMessage& m, Reply reply);

  const config::Lambda& cfg() const { return cfg_; }
  const config::Lambda* next_config() const;  // the config it starts with once stopped, if any
  bool removing() const { return std::holds_alternative<Remove>(after_stop_); }
  bool deregistered() const { return std::holds_alternative<StayStopped>(after_stop_); }
  // What every report says: read live, since a process may have ended since the last pass.
  LambdaState state() const;
  bool ready() const;  // every process up: registered in the segment under its own pid
  // Nothing left to wait for: running, stopped or failed, with no new config pending.
  bool settled() const;
  bool any_child() const;
  std::optional<Clock::time_point> next_deadline() const;  // the earliest timer
  const std::string& failure() const { return failure_; }
  std::uint64_t worker_restarts() const { return worker_restarts_; }
  std::uint64_t consumer_restarts() const { return consumer_restarts_; }
  LambdaReport report(std::uint64_t now_ns) const;

  // For the supervisor's poll: the consumer's channel and the workers' output pipes.
  int control_fd() const { return control_.get(); }
  void output_pipes(std::vector<std::optional<ChildOutput>*>& out);
  // Every live process: role name, slot, pid.
  void for_each_process(const std::function<void(const char* role, std::uint32_t slot, pid_t pid)>& f) const;
  // The segment, for tests that play the processes' part in it.
  const shm::Segment* segment() const { return seg_ ? &*seg_ : nullptr; }

 private:
  struct Proc {
    std::unique_ptr<Child> child;
    std::optional<Clock::time_point> restart_at;
    bool timeout_kill_sent = false;
    // The consumer quarantined this worker's ring: once the worker is dead, reset the
    // rings, tell the consumer, then restart the worker (shm/control_channel.hpp).
    bool reset_pending = false;
    // The worker exited saying its ring is corrupt: wait for the consumer's quarantine.
    bool awaiting_quarantine = false;
    // A worker's stdout and stderr (child_output.hpp); kept after it ended until
    // everything it wrote was read.
    std::optional<ChildOutput> output;
  };
  struct StartWith {
    config::Lambda cfg;
  };
  struct Remove {};
  struct StayStopped {};

  bool active() const { return state_ == LambdaState::kStarting; }  // its processes are kept up
  void transition(LambdaState to);
  void make_segment();
  void start_processes(Now now);
  void spawn_consumer();
  void spawn_worker(std::uint32_t slot);
  void on_exit(bool consumer, std::uint32_t slot, int status, pid_t pid, Now now);
  void on_consumer_exit();
  bool note_restart(const std::string& how, bool started);
  void stop_processes(bool failing, Now now);
  void finish_stop();
  void check_hung_handlers(Now now);
  void check_consumer_progress(Now now);
  void reset_worker_rings(std::uint32_t slot);
  void answer_resumes(const std::string& why);
  void signal_workers(int sig);

  const config::Config& daemon_;
  const Executables& exes_;
  Spawner& spawner_;
  config::Lambda cfg_;
  std::optional<shm::Segment> seg_;
  Proc consumer_;
  shm::UniqueFd control_;  // our end of the current consumer's channel
  // The whole resolved config, Kafka credentials included, sealed, for the consumer
  // only: the segment's copy (which workers read) leaves the Kafka settings out.
  shm::UniqueFd consumer_config_;
  std::vector<Proc> workers_;
  // Changed only by transition(). kStarting while the lambda is active (its processes
  // are kept running): whether it is starting or running is read live (state()), never
  // stored, since a process may end between two passes.
  LambdaState state_ = LambdaState::kStarting;
  bool failing_ = false;  // stopping because it was given up on
  RestartPolicy restarts_;
  std::string failure_;  // why it is failed
  std::optional<Clock::time_point> stop_deadline_;
  std::variant<std::monostate, StartWith, Remove, StayStopped> after_stop_;
  std::uint64_t worker_restarts_ = 0;
  std::uint64_t consumer_restarts_ = 0;
  std::deque<Reply> resumes_;  // asked of the consumer, in order
  // What the workers had tried of the records in the rings when the consumer ended,
  // for the next consumer (shm/carried_attempts.hpp).
  std::vector<shm::CarriedAttempt> carried_;
};

}  // namespace sluice::supervisor
