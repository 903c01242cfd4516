#include "supervisor/reload_plan.hpp"

#include <algorithm>

#include "config/lambda_json.hpp"

namespace sluice::supervisor {

bool same_config(const config::Lambda& a, const config::Lambda& b) {
  auto comparable = [](const config::Lambda& l) {
    auto j = config::to_json(l);
    j.erase("source");
    j.erase("line");
    j.erase("column");
    return j;
  };
  return comparable(a) == comparable(b);
}

std::vector<ReloadStep> plan_reload(const std::vector<std::pair<std::string, Running>>& running,
                                    const std::vector<config::Lambda>& next) {
  std::vector<ReloadStep> steps;
  for (const auto& n : next) {
    const auto it = std::find_if(running.begin(), running.end(), [&](const auto& r) { return r.first == n.name; });
    if (it == running.end()) {
      steps.push_back({n.name, ReloadAction::kAdd, &n});
      continue;
    }
    const Running& r = it->second;
    if (r.deregistered) {
      steps.push_back({n.name, ReloadAction::kKeepConfig, &n});
    } else if (r.removing || !same_config(*r.cfg, n)) {
      steps.push_back({n.name, ReloadAction::kRestart, &n});
    } else if (r.failed) {
      steps.push_back({n.name, ReloadAction::kRetry, &n});
    }
  }
  for (const auto& [name, r] : running) {
    const bool wanted = std::any_of(next.begin(), next.end(), [&](const config::Lambda& n) { return n.name == name; });
    if (!wanted && !r.removing) steps.push_back({name, ReloadAction::kRemove, nullptr});
  }
  return steps;
}

}  // namespace sluice::supervisor
