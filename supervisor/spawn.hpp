// Starting a child of the supervisor: exec of sluice's own binary through Boost.Process,
// with the guarantees every child needs before its first instruction.
#pragma once

#include <boost/process/child.hpp>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/child.hpp"

namespace sluice::supervisor {

// An environment block for execve: this process's environment without some variables,
// built once, before any thread starts (nothing may build one between fork and exec).
// Built by hand: Boost.Process 1.74's environment::find() compares as many bytes as
// the key has against every entry, reading past the end of shorter ones.
class ChildEnvironment {
 public:
  explicit ChildEnvironment(std::initializer_list<const char*> drop);
  // Only the variables `keep` accepts (by name).
  explicit ChildEnvironment(bool (*keep)(std::string_view name));
  char** envp() const { return const_cast<char**>(ptrs_.data()); }

 private:
  std::vector<std::string> entries_;
  std::vector<char*> ptrs_;  // into entries_, null-terminated
};

// Which of the daemon's variables a worker sees, and so every handler program it starts:
// what programs need to run (PATH, HOME, USER, LOGNAME, locale, TZ, TMPDIR,
// LD_LIBRARY_PATH, PYTHONPATH), proxies and CA bundles (for http handlers), journald's stream
// variables, sluice's own log settings and sanitizer options. Not the rest: the
// daemon's environment is where credentials such as KAFKA_PASSWORD live, and a handler
// needs none of them ([lambda.handler.env] passes what it does need).
bool passes_to_workers(std::string_view name);

// Starts `exe args...` with environment `env`; the descriptors in `inherit` stay open
// across the exec (every other descriptor of ours is close-on-exec). In the child, before exec: the signal
// mask the supervisor's signalfd needs is cleared, PR_SET_PDEATHSIG is set to SIGKILL
// so the child dies with the supervisor (and so never stores offsets for unfinished
// work), and a parent that already died is caught by re-checking getppid(). Throws on
// failure.
boost::process::child spawn_child(const std::string& exe, const std::vector<std::string>& args,
                                  const ChildEnvironment& env, std::vector<int> inherit = {});

// The supervisor's Spawner: real processes through spawn_child(), the consumer with the
// supervisor's environment less systemd's notify variables (only the supervisor talks
// to systemd), workers with what passes_to_workers() lets through.
class ProcessSpawner final : public Spawner {
 public:
  ProcessSpawner();
  std::unique_ptr<Child> spawn(ChildRole role, const std::string& exe, const std::vector<std::string>& args,
                               std::vector<int> inherit) override;

 private:
  ChildEnvironment consumer_env_;
  ChildEnvironment worker_env_;
};

}  // namespace sluice::supervisor
