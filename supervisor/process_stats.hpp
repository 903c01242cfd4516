// CPU, memory, descriptors and start time of a process, read from /proc as Prometheus'
// process collector does for its own process; the supervisor reads them for itself and
// for each of its children (process_* metrics).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace sluice::supervisor {

struct ProcessStats {
  double cpu_seconds = 0;      // user + system
  std::uint64_t rss_bytes = 0;
  std::uint64_t open_fds = 0;
  double start_time_s = 0;     // since the epoch
};

// nullopt when the process is gone (or /proc cannot be read).
std::optional<ProcessStats> read_process_stats(pid_t pid);

}  // namespace sluice::supervisor
