// When a lambda whose processes keep ending is given up on, and how long to wait before
// each restart. Pure bookkeeping over time points the caller passes in, so restart
// intensity and backoff are tested without processes or a real clock.
//
// Doubling backoff alone never ends a crash loop: with the defaults the gaps soon
// outgrow any restart window. So restarts are counted until the lambda has run a whole
// restart_window_s with every process up, and more than max_restarts fails it; processes
// that end before they are even up (a plugin that cannot load, a module that cannot
// import) fail it after start_attempts in a row, since they will not fix themselves.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"

namespace sluice::supervisor {

class RestartPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RestartPolicy(config::Restart cfg = {}) : cfg_(cfg) {}
  // A reload's new [supervisor] limits; what was counted stays.
  void reconfigure(const config::Restart& cfg) { cfg_ = cfg; }

  // A process of the lambda ended (`how`, for messages); `started`: it was up first.
  // Returns why the lambda is to be failed, or nullopt to restart it after backoff().
  std::optional<std::string> ended(const std::string& how, bool started);
  // Whether every process of the lambda is up at `now`; called on every pass.
  void observe(bool all_up, Clock::time_point now);
  // The wait before the next restart: backoff_min_ms doubling per restart in a row, at
  // most backoff_max_ms.
  std::chrono::milliseconds backoff() const;

  std::uint32_t in_a_row() const { return consecutive_; }
  const std::string& last_exit() const { return last_exit_; }

 private:
  config::Restart cfg_;
  std::uint32_t consecutive_ = 0;    // restarts since the lambda last ran a whole window
  std::uint32_t failed_starts_ = 0;  // processes in a row that ended before they were up
  std::optional<Clock::time_point> up_since_;
  std::string last_exit_;
};

}  // namespace sluice::supervisor
