#include "supervisor/process_stats.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sluice::supervisor {
namespace {

double boot_time_s() {
  static const double boot = [] {
    std::ifstream in("/proc/stat");
    std::string key;
    double value = 0;
    while (in >> key) {
      if (key == "btime") {
        in >> value;
        break;
      }
      in.ignore(1 << 20, '\n');
    }
    return value;
  }();
  return boot;
}

}  // namespace

std::optional<ProcessStats> read_process_stats(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream in(dir + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: fields after it
  // are counted from the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::string f[50];
  for (int i = 0; i < 22 && rest >> f[i]; ++i) {
  }
  // rest starts at field 3 (state): utime is field 14, stime 15, starttime 22, rss 24.
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  ProcessStats s;
  try {
    s.cpu_seconds = static_cast<double>(std::stoull(f[11]) + std::stoull(f[12])) / static_cast<double>(ticks);
    s.start_time_s = boot_time_s() + static_cast<double>(std::stoull(f[19])) / static_cast<double>(ticks);
    s.rss_bytes = static_cast<std::uint64_t>(std::stoll(f[21])) * static_cast<std::uint64_t>(page);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir + "/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    ++s.open_fds;
  }
  return s;
}

}  // namespace sluice::supervisor
