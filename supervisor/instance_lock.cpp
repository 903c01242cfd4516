#include "supervisor/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "supervisor/runtime_dir.hpp"

namespace sluice::supervisor {

InstanceLock::InstanceLock(const std::string& runtime_dir, const std::string& instance) {
  prepare_runtime_dir(runtime_dir);
  const std::string path = runtime_dir + "/" + instance + ".lock";
  // Never through a symlink: truncating and writing our pid would clobber its target.
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw std::runtime_error("cannot open lock file " + path + ": " +
                             (errno == ELOOP ? std::string("it is a symlink; remove it") : std::strerror(errno)));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw std::runtime_error("another sluice daemon with instance \"" + instance + "\" is running (it holds " + path +
                               "); give this one a different `instance` in its config");
    }
    throw std::runtime_error("cannot lock " + path + ": " + std::strerror(err));
  }
  const std::string pid = std::to_string(getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] auto n = ::write(fd_, pid.data(), pid.size());
  }
}

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace sluice::supervisor
