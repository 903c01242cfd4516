// A lambda's state as every report names it: GET /lambdas, /healthz, /metrics
// (sluice_lambda_state), `sluice status`, the admin API's answers.
#pragma once

#include <string_view>

namespace sluice::supervisor {

enum class LambdaState {
  kStarting,  // its processes are being started (or restarted), not all up yet
  kRunning,   // every process up: consumer subscribed, every worker's handler ready
  kStopping,  // asked to stop: the consumer drains and commits, then the workers stop
  kStopped,   // stopped by the operator (deregistered) or on the way to a new config
  kFailed,    // given up on (max_restarts, start_attempts, or it could not be set up)
};

inline constexpr LambdaState kLambdaStates[] = {LambdaState::kStarting, LambdaState::kRunning, LambdaState::kStopping,
                                                LambdaState::kStopped, LambdaState::kFailed};

constexpr std::string_view name_of(LambdaState s) {
  switch (s) {
    case LambdaState::kStarting: return "starting";
    case LambdaState::kRunning: return "running";
    case LambdaState::kStopping: return "stopping";
    case LambdaState::kStopped: return "stopped";
    case LambdaState::kFailed: return "failed";
  }
  return "unknown";
}

}  // namespace sluice::supervisor
