#pragma once

#include <cstdio>
#include <string>

namespace sluice::app {

// Logs to stderr, one line per event, tagged with the process role ("supervisor",
// "consumer orders", "worker orders/2") so interleaved child output stays readable.
// Format "text" (default): a syslog priority prefix ("<6>", which journald turns into
// the entry's priority), time, level, role, message. "json": one JSON object per line.
// The format comes from SLUICE_LOG_FORMAT, which `--log-format` sets for children too;
// the level from SLUICE_LOG_LEVEL (trace, debug, info — the default —, warning, error,
// critical, off; anything else is reported and ignored).
// `to`: where the lines go; stderr when null (a worker logs to a copy of its original
// stderr, because its own descriptors 1 and 2 are a pipe the supervisor reads).
void init_logging(const std::string& role, FILE* to = nullptr);

// Checks and applies a --log-format value; false if it is neither "text" nor "json".
bool set_log_format(const std::string& format);

}  // namespace sluice::app
