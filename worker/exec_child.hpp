// One long-lived handler process of an exec handler, with its stdin and stdout as pipes.
// The worker is its only user: one request at a time, each with a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <stop_token>
#include <thread>
#include <map>
#include <string>
#include <vector>

#include "worker/exec_frame.hpp"

namespace sluice::worker {

class ExecChild {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Result {
    kOk,         // `response` holds one whole frame
    kTimeout,    // deadline passed: the child was killed
    kEnded,      // the child closed its stdout or exited: exit_status() says how
    kMalformed,  // it answered something that is not one frame: the child was killed
  };

  ExecChild(std::vector<std::string> argv, std::map<std::string, std::string> env);
  ~ExecChild();
  ExecChild(const ExecChild&) = delete;
  ExecChild& operator=(const ExecChild&) = delete;

  // Starts the process. Throws std::runtime_error when it cannot be executed.
  void start();
  bool running() const { return pid_ > 0; }
  // Writes `request` (may be empty) and reads one frame back by `deadline`. Reading goes
  // on while writing, so a child that answers before it has read everything cannot
  // deadlock with us on full pipes.
  Result exchange(std::string_view request, Clock::time_point deadline, Frame& response);
  // Lifespan end: SIGTERM, close its stdin, SIGKILL after `grace`, reap.
  void stop(std::chrono::milliseconds grace);
  // Raw wait status of the last process that ended.
  int exit_status() const { return exit_status_; }
  // After kMalformed: what was wrong with the answer.
  const std::string& error() const { return error_; }

 private:
  void kill_and_reap();
  // Waits up to `ms` for the child to exit; true once reaped.
  bool reap_within(int ms);
  void close_fds();

  // Logs what the child writes to its stderr, a line at a time, through the worker's
  // logger (so each line names the lambda and the worker, in the daemon's format) until
  // the pipe ends or the child is replaced.
  void log_stderr(std::stop_token stop, int fd);

  std::vector<std::string> argv_;
  std::vector<std::string> env_;  // "NAME=value", the worker's environment plus `env`
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int to_child_ = -1;    // its stdin
  int from_child_ = -1;  // its stdout
  int exit_status_ = 0;
  FrameReader reader_;
  std::string error_;
  std::jthread stderr_logger_;
};

}  // namespace sluice::worker
