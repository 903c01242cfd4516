// Start-up checks of process resource limits the children inherit.
#pragma once

#include <cstdint>

namespace sluice::supervisor {

// Every consumer holds sockets and wake-up fds per broker for its consumer and its
// dead-letter producer; below this a consumer fails later, mid-run, with EMFILE.
constexpr std::uint64_t kMinOpenFiles = 256;

// Raises the soft RLIMIT_NOFILE towards the hard limit (children inherit it) and throws a
// runtime_error naming the limit and the setting to change when even the hard limit is
// below kMinOpenFiles.
void ensure_open_files_limit();

}  // namespace sluice::supervisor
