// What a reload does to each lambda, decided from the running lambdas and the new config
// alone, so the rules are tested without processes. The supervisor carries the plan out.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace sluice::supervisor {

// A running lambda as a reload sees it.
struct Running {
  const config::Lambda* cfg;  // the config it runs, or starts with once stopped
  bool deregistered = false;  // stopped by DELETE /kafka/register: stays so until registered
  bool removing = false;      // already on its way out
  bool failed = false;
};

enum class ReloadAction {
  kAdd,         // new in the config: start it
  kRestart,     // its config changed (or it was on its way out): stop, start with the new one
  kRetry,       // failed, config unchanged: the fix may be outside the config, so start again
  kKeepConfig,  // deregistered: take the new config, stay stopped
  kRemove,      // gone from the config: stop and forget it
};

struct ReloadStep {
  std::string name;
  ReloadAction action;
  const config::Lambda* cfg = nullptr;  // the new config (not for kRemove)
};

// The new config's lambdas in its order, then the removals in the running order.
// Running lambdas whose config did not change (sources aside) have no step.
std::vector<ReloadStep> plan_reload(const std::vector<std::pair<std::string, Running>>& running,
                                    const std::vector<config::Lambda>& next);

// Whether two configs of a lambda differ in anything but where they were written.
bool same_config(const config::Lambda& a, const config::Lambda& b);

}  // namespace sluice::supervisor
