// Starting a child of the supervisor: exec of sluice's own binary through Boost.Process,
// with the guarantees every child needs before its first instruction.
#pragma once

#include <boost/process/child.hpp>
#include <boost/process/environment.hpp>
#include <string>
#include <vector>

namespace sluice::supervisor {

// Starts `exe args...`. In the child, before exec: the signal mask the supervisor's
// signalfd needs is cleared, PR_SET_PDEATHSIG is set to SIGKILL so the child dies with
// the supervisor (and so never stores offsets for unfinished work), and a parent that
// already died is caught by re-checking getppid(). The child's environment is `env`,
// prepared before any thread started: nothing may build one between fork and exec.
// Throws on failure.
boost::process::child spawn_child(const std::string& exe, const std::vector<std::string>& args,
                                  const boost::process::environment& env);

}  // namespace sluice::supervisor
