// How a child of the supervisor (consumer or worker) learns it should stop.
//
// Only the supervisor may stop a child: it stops a lambda's consumer first (so it can
// drain and commit) and the workers after it. A SIGTERM or SIGINT from anyone else --
// Ctrl-C in a terminal signals the whole foreground process group, `pkill sluice` every
// process of that name, `kill -TERM -<pgid>` the group -- would stop workers while the
// consumer still waits for their records, so children catch and ignore those and leave
// the coordination to the supervisor, which receives the same signal.
//
// The supervisor's request is a real-time signal: real-time signals are queued, so the
// request cannot merge with a SIGTERM from elsewhere that is pending at the same moment
// (standard signals coalesce, and the merged one carries the other sender's siginfo).
#pragma once

#include <signal.h>

#include <atomic>

namespace sluice::process {

inline int stop_request_signal() { return SIGRTMIN; }

// Sets `flag` on stop_request_signal(); catches SIGTERM and SIGINT and ignores them.
// Caught rather than SIG_IGN, so programs the child execs get default dispositions.
// `flag` must outlive the process's signal handling.
void stop_on_request(std::atomic<bool>& flag);

}  // namespace sluice::process
