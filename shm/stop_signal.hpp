// How a child of the supervisor (consumer or worker) learns it should stop.
//
// Only the supervisor may stop a child: it stops a lambda's consumer first (so it can
// drain and commit) and the workers after it. A SIGTERM or SIGINT from anyone else --
// Ctrl-C in a terminal signals the whole foreground process group, `pkill sluice` every
// process of that name, `kill -TERM -<pgid>` the group -- would stop workers while the
// consumer still waits for their records, so children ignore it and leave the
// coordination to the supervisor, which receives the same signal.
#pragma once

#include <atomic>

namespace sluice::shm {

// Installs handlers that set `flag` on SIGTERM or SIGINT sent by the parent process and
// ignore them from any other sender. `flag` must outlive the process's signal handling.
void stop_on_parent_signal(std::atomic<bool>& flag);

}  // namespace sluice::shm
