// The admin API's JSON answers, built where the supervisor's one thread decides them.
#pragma once

#include <nlohmann/json.hpp>

#include "supervisor/mailbox.hpp"

namespace sluice::supervisor {

inline AdminResponse json_response(int status, const nlohmann::json& body) {
  return {status, "application/json", body.dump(2) + "\n"};
}

}  // namespace sluice::supervisor
