// How a child process ended, in words for logs and dead letters: the supervisor keeps a
// dead worker's raw waitpid status in its WorkerSlot, and the replacement reports it.
#pragma once

#include <sys/wait.h>

#include <cstring>
#include <string>

namespace sluice::process {

inline std::string describe_exit(const char* who, int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(wait_status));
    return std::string(who) + " killed by " +
           (abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(WTERMSIG(wait_status)));
  }
  if (WIFEXITED(wait_status)) return std::string(who) + " exited with status " + std::to_string(WEXITSTATUS(wait_status));
  return std::string(who) + " ended (wait status " + std::to_string(wait_status) + ")";
}

}  // namespace sluice::process
