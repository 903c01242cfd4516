// One long-lived handler process of an exec handler, with its stdin and stdout as pipes.
// The worker is its only user: one request at a time, each with a deadline, or (a child
// that can take them) a window of requests ahead of their answers.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <span>
#include <stop_token>
#include <thread>
#include <map>
#include <string>
#include <string_view>
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
  // Writes `request` (may be empty) and reads one frame back by `deadline`: pipeline()
  // with one request. Reading goes on while writing, so a child that answers before it
  // has read everything cannot deadlock with us on full pipes.
  Result exchange(std::string_view request, Clock::time_point deadline, Frame& response);
  // For a child that listed the `pipeline` feature: writes `requests` in order, at most
  // `window` of them unanswered at a time, and reads their answers in order while writing,
  // calling on_answer(i, frame) for each. Each answer is due `timeout` after the one before
  // it (the first, after the call starts), since the child takes requests in turn. Once
  // `stop` is set, or on_answer() returns false, no further request is begun (one partly
  // written is finished first). `answered` counts the answers; a result
  // other than kOk is about request `answered`, which then has none (the child is gone).
  // `on_write(i)`, if set, runs before request i is first written.
  Result pipeline(std::span<const std::string_view> requests, std::size_t window, std::chrono::milliseconds timeout,
                  const std::atomic<bool>& stop, const std::function<bool(std::size_t, Frame&)>& on_answer,
                  std::size_t& answered, const std::function<void(std::size_t)>& on_write = {});
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
