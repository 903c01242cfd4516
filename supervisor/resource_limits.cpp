#include "supervisor/resource_limits.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <spdlog/spdlog.h>

namespace sluice::supervisor {

void ensure_open_files_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    throw std::runtime_error(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  // 65536 is plenty and keeps select()-era code in handler libraries away from huge fds.
  const rlim_t want = std::min<rlim_t>(lim.rlim_max, 65536);
  if (lim.rlim_cur < want) {
    const rlim_t was = lim.rlim_cur;
    lim.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &lim) == 0) spdlog::debug("raised the open files limit from {} to {}", was, want);
  }
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < kMinOpenFiles) {
    throw std::runtime_error("the open files limit (RLIMIT_NOFILE) is " + std::to_string(lim.rlim_cur) +
                             " and cannot be raised; sluice needs at least " + std::to_string(kMinOpenFiles) +
                             " (raise LimitNOFILE= in the systemd unit, or `ulimit -n` in the shell)");
  }
}

}  // namespace sluice::supervisor
