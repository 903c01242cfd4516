// The client side of the admin API, for `sluice status` and `sluice reload`.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"

namespace sluice::app {

// `sluice status`: lambdas, states, restarts, partitions and lag. Returns the exit status.
int cmd_status(const config::Config& c, bool json);

// `sluice reload`: asks the running daemon to re-read its configuration; with `wait`,
// returns once the lambdas it changed have settled. Exit status 0, 78 when the new
// configuration is invalid (the daemon keeps the old one), 1 otherwise.
int cmd_reload(const config::Config& c, bool wait);

// `sluice resume`: retries the lambda's partitions stopped at a failed record (all, or
// the topic's, or one). Exit status 0 (also when none was stopped), 1 otherwise.
int cmd_resume(const config::Config& c, const std::string& lambda, const std::string& topic, int partition);

// `sluice register` / `sluice deregister`: POST / DELETE /kafka/register/<name>, waiting
// for the lambda to run (or stop). Exit status 0, 78 when its file is invalid, 1 otherwise.
int cmd_register(const config::Config& c, const std::string& lambda, bool start);

// The state the running daemon reports for `lambda`; nullopt when no daemon answers or
// it does not know the lambda.
std::optional<std::string> daemon_state_of(const config::Config& c, const std::string& lambda);

}  // namespace sluice::app
