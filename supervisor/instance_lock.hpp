// One daemon per instance: an flock on <runtime_dir>/<instance>.lock, held for the
// supervisor's lifetime. The kernel drops it when the process dies, however it dies.
#pragma once

#include <string>

namespace sluice::supervisor {

class InstanceLock {
 public:
  // Throws std::runtime_error naming the lock file when another process holds it.
  InstanceLock(const std::string& runtime_dir, const std::string& instance);
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace sluice::supervisor
