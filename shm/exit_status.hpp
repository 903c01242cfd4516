// How a worker process ended, as the supervisor stores it in RingControl::last_exit_status
// (a raw waitpid status) and a replacement worker reports it in a dead letter's reason.
#pragma once

#include <sys/wait.h>

#include <cstring>
#include <string>

namespace sluice::shm {

inline std::string describe_exit(const char* who, int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(wait_status));
    return std::string(who) + " killed by " +
           (abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(WTERMSIG(wait_status)));
  }
  if (WIFEXITED(wait_status)) return std::string(who) + " exited with status " + std::to_string(WEXITSTATUS(wait_status));
  return std::string(who) + " ended (wait status " + std::to_string(wait_status) + ")";
}

}  // namespace sluice::shm
