#include "supervisor/restart_policy.hpp"

#include <algorithm>

namespace sluice::supervisor {

std::optional<std::string> RestartPolicy::ended(const std::string& how, bool started) {
  last_exit_ = how;
  up_since_.reset();
  ++consecutive_;
  failed_starts_ = started ? 0 : failed_starts_ + 1;
  if (failed_starts_ >= cfg_.start_attempts) {
    return "cannot start: " + std::to_string(failed_starts_) +
           " start(s) in a row ended before the process was up (start_attempts " + std::to_string(cfg_.start_attempts) +
           "), the last: " + how;
  }
  if (consecutive_ > cfg_.max_restarts) {
    return std::to_string(consecutive_) + " restarts without running restart_window_s (" +
           std::to_string(cfg_.window_s) + " s) in between (max_restarts " + std::to_string(cfg_.max_restarts) +
           "), the last: " + how;
  }
  return std::nullopt;
}

void RestartPolicy::observe(bool all_up, Clock::time_point now) {
  if (!all_up) {
    up_since_.reset();
    return;
  }
  if (!up_since_) up_since_ = now;
  failed_starts_ = 0;
  if (consecutive_ != 0 && now - *up_since_ >= std::chrono::seconds(cfg_.window_s)) consecutive_ = 0;
}

std::chrono::milliseconds RestartPolicy::backoff() const {
  const std::uint32_t doublings = consecutive_ == 0 ? 0 : std::min<std::uint32_t>(consecutive_ - 1, 20);
  return std::chrono::milliseconds(
      std::min<std::uint64_t>(cfg_.backoff_max_ms, std::uint64_t{cfg_.backoff_min_ms} << doublings));
}

}  // namespace sluice::supervisor
