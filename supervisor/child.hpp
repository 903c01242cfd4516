// A lambda's processes as its lifecycle sees them: something that has a pid, can be
// signalled and ends with a wait status. The supervisor's Spawner starts real processes
// (spawn.hpp); unit tests give a lambda's lifecycle a fake one and decide when each
// child ends, so every transition is tested without processes or waiting.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::supervisor {

class Child {
 public:
  virtual ~Child() = default;  // a real child still running is killed and reaped
  virtual pid_t pid() const = 0;
  // Its wait status once it has ended (and is reaped: never signalled again); nullopt
  // while it runs.
  virtual std::optional<int> poll_exit() = 0;
  virtual void signal(int sig) = 0;
  // SIGKILL, then wait until it has ended.
  virtual void kill_and_reap() = 0;
};

// Consumers and workers get different environments (spawn.hpp).
enum class ChildRole { kConsumer, kWorker };

class Spawner {
 public:
  virtual ~Spawner() = default;
  // Starts `exe args...`; the descriptors in `inherit` stay open in the child. Throws
  // with a message an operator can act on when the process cannot be started.
  virtual std::unique_ptr<Child> spawn(ChildRole role, const std::string& exe, const std::vector<std::string>& args,
                                       std::vector<int> inherit) = 0;
};

}  // namespace sluice::supervisor
