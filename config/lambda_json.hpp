// A lambda's resolved configuration as JSON. The supervisor writes it into the lambda's
// shm segment; the consumer and workers read it from there, so a child restarted later
// runs the config its supervisor holds, not whatever the files say by then.
#pragma once

#include <nlohmann/json.hpp>

#include "config/config.hpp"

namespace sluice::config {

nlohmann::json to_json(const Lambda& l);
Lambda lambda_from_json(const nlohmann::json& j);

}  // namespace sluice::config
