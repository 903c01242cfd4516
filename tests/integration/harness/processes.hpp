// The processes a test runs: the dev broker, the daemon, the CLI, and what
// they leave behind (I5).
#pragma once

#include <sys/types.h>

#include <boost/process/child.hpp>
#include <boost/process/pipe.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::test {

namespace fs = std::filesystem;

// Polls pred every 20 ms until it holds or `limit` passes. Returns whether it held.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// `sluice dev-broker` in its own process. Its log is printed when the test has failed;
// with SLUICE_IT_BROKER_DEBUG=mock it holds the mock cluster's own view of its consumer
// groups (states, members joining and timing out), for a group that never settles.
class DevBroker {
 public:
  explicit DevBroker(const std::vector<std::string>& topics, int brokers = 1);
  ~DevBroker();
  const std::string& bootstrap() const { return bootstrap_; }
  // Sends one control line (see app/dev_broker.cpp) and returns the broker's reply.
  std::string control(const std::string& line);

 private:
  boost::process::opstream in_;
  boost::process::ipstream out_;
  boost::process::child child_;
  std::string bootstrap_;
  fs::path log_;
};

// The test's ASAN_OPTIONS (as scripts/test.sh sets them) with `option` added, for a
// daemon's environment.
std::string asan_options_with(const std::string& option);
// Daemon environment that lets a handler's SIGSEGV kill its worker even in the ASan
// build (ASan would otherwise catch it and exit 1).
std::map<std::string, std::string> segv_kills_env();

// SLUICE_SOAK=1 (scripts/test.sh --soak): long-running tests run for minutes.
bool soak();

// `sluice ARGS...` run to completion; stdout and stderr through files in dir.
struct CliResult {
  int status;
  std::string out;
  std::string err;
};
CliResult run_sluice(const fs::path& dir, const std::vector<std::string>& args);

// How to start a daemon beyond its config.
struct DaemonOptions {
  bool own_process_group = false;  // setpgid(0, 0), so a test can signal the whole group
  std::optional<std::pair<std::uint64_t, std::uint64_t>> nofile;  // RLIMIT_NOFILE soft, hard
  std::optional<uid_t> uid;  // run as this user (and its group of the same number); the test must be root
};

// `sluice run` in its own process; stderr goes to a file in dir.
class Daemon {
 public:
  // env: extra environment variables for the daemon and its children.
  Daemon(const fs::path& dir, const std::string& config_text, const std::string& tag = "run",
         const std::map<std::string, std::string>& env = {}, const DaemonOptions& options = {});
  ~Daemon();
  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits for exit; returns the raw wait status, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds limit);
  // Child processes of the daemon whose command line contains `role` (and `--slot N`).
  std::vector<pid_t> children(const std::string& role) const;
  std::string log() const;
  // Open file descriptors of the supervisor process.
  std::size_t open_fds() const;
  // Children of the supervisor that have exited but were not reaped.
  std::size_t zombie_children() const;

 private:
  fs::path log_path_;
  boost::process::child child_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

// "it<pid>n<k>": unique per test process; scripts/test.sh counts leaked segments by it.
std::string unique_instance();

// True while pid runs (a zombie counts as gone).
bool process_alive(pid_t pid);

// The contents of a /proc file, or "" once the process it describes has gone.
std::string read_proc_file(const std::filesystem::path& path);

// I5: no process running for the instance (children name it with --instance), and no
// segment of it in /dev/shm (segments are memfds: none should ever be there).
std::string check_hygiene(const std::string& instance);

}  // namespace sluice::test
