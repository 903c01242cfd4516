#include "worker/exec_child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>

extern char** environ;

namespace sluice::worker {
namespace {

int remaining_ms(ExecChild::Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - ExecChild::Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1'000'000));
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Runs in the forked child before exec: only async-signal-safe calls.
[[noreturn]] void exec_child(int in, int out, int log, int err_fd, pid_t parent, char* const* argv, char* const* envp) {
  // Die with the worker: a worker killed for a hung handler must not leave the handler
  // running, and must not leave it reading a pipe nobody writes.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  // Its own process group: a Ctrl-C at the terminal reaches the daemon, which stops the
  // handler in order, rather than interrupting the handler mid-event.
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);  // the worker ignores it; an ignored disposition survives exec
  if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(log, STDERR_FILENO) < 0) {
    const int e = errno;
    (void)!write(err_fd, &e, sizeof e);
    _exit(127);
  }
  execvpe(argv[0], argv, envp);
  const int e = errno;
  (void)!write(err_fd, &e, sizeof e);
  _exit(127);
}

}  // namespace

ExecChild::ExecChild(std::vector<std::string> argv, std::map<std::string, std::string> env) : argv_(std::move(argv)) {
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv(*e);
    if (!env.contains(std::string(kv.substr(0, kv.find('='))))) env_.emplace_back(kv);
  }
  for (const auto& [k, v] : env) env_.push_back(k + "=" + v);
  // Writing to a child that died must be an EPIPE we handle, not a signal that kills us.
  signal(SIGPIPE, SIG_IGN);
}

ExecChild::~ExecChild() {
  if (running()) kill_and_reap();
}

void ExecChild::start() {
  if (running()) return;
  std::vector<char*> argv;
  for (auto& a : argv_) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_) envp.push_back(e.data());
  envp.push_back(nullptr);

  int in[2];
  int out[2];
  int err[2];
  if (pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  int log[2];
  if (pipe2(log, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) exec_child(in[0], out[1], log[1], err[1], parent, argv.data(), envp.data());
  const int fork_errno = errno;
  for (int fd : {in[0], out[1], err[1], log[1]}) close(fd);
  if (pid < 0) {
    for (int fd : {in[1], out[0], err[0], log[0]}) close(fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(fork_errno));
  }
  // The previous child's logger ends (and is joined) first: one logger per child.
  stderr_logger_ = std::jthread([this, fd = log[0]](std::stop_token stop) { log_stderr(stop, fd); });
  // The error pipe closes on a successful exec; otherwise it carries the errno.
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(err[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(err[0]);
  pid_ = pid;
  to_child_ = in[1];
  from_child_ = out[0];
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  set_nonblocking(to_child_);
  set_nonblocking(from_child_);
  reader_.reset();
  if (n > 0) {
    kill_and_reap();
    throw std::runtime_error("cannot execute \"" + argv_.front() + "\": " + std::strerror(child_errno));
  }
}

ExecChild::Result ExecChild::exchange(std::string_view request, Clock::time_point deadline, Frame& response) {
  static const std::atomic<bool> kNoStop{false};
  const std::string_view one[] = {request};
  std::size_t answered = 0;
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return pipeline(one, 1, std::max(timeout, std::chrono::milliseconds(0)), kNoStop,
                  [&](std::size_t, Frame& f) {
                    response = std::move(f);
                    return true;
                  },
                  answered);
}

ExecChild::Result ExecChild::pipeline(std::span<const std::string_view> requests, std::size_t window,
                                      std::chrono::milliseconds timeout, const std::atomic<bool>& stop,
                                      const std::function<bool(std::size_t, Frame&)>& on_answer, std::size_t& answered,
                                      const std::function<void(std::size_t)>& on_write) {
  error_.clear();
  answered = 0;
  std::size_t begun = requests.size();  // requests that will be written (fewer after a stop)
  std::size_t sent = 0;                 // requests written whole
  std::size_t offset = 0;               // bytes of requests[sent] written
  std::size_t offered = 0;              // requests on_write() was told of
  bool held = false;                    // on_answer() asked for no more
  auto deadline = Clock::now() + timeout;
  char buf[64 << 10];
  for (;;) {
    if (offset == 0 && sent < begun && (held || stop.load(std::memory_order_relaxed))) begun = sent;
    if (offset == 0 && sent < begun && requests[sent].empty()) {  // nothing to write (a start-up's read)
      ++sent;
      continue;
    }
    if (answered == begun) {
      if (reader_.buffered() != 0) {
        // More than the answers asked for: the next call would read it as its own.
        error_ = "more answers than requests";
        kill_and_reap();
        return Result::kMalformed;
      }
      return Result::kOk;
    }
    const bool writing = sent < begun && sent - answered < window;
    pollfd fds[2] = {{from_child_, POLLIN, 0}, {to_child_, POLLOUT, 0}};
    const int rc = poll(fds, writing ? 2 : 1, remaining_ms(deadline));
    if (rc < 0 && errno != EINTR) {
      error_ = std::string("poll: ") + std::strerror(errno);
      kill_and_reap();
      return Result::kMalformed;
    }
    if (rc == 0 && Clock::now() >= deadline) {
      kill_and_reap();
      return Result::kTimeout;
    }
    if (writing && (fds[1].revents & (POLLOUT | POLLERR)) != 0) {
      // Every request the window allows in one write: a system call, and one wake-up of
      // a child that reads what is waiting, for a run of records instead of one each.
      std::array<iovec, 64> iov{};
      std::size_t n = 0;
      for (std::size_t k = sent; k < std::min(begun, answered + window) && n < iov.size(); ++k) {
        const std::size_t skip = k == sent ? offset : 0;
        iov[n++] = {const_cast<char*>(requests[k].data() + skip), requests[k].size() - skip};
        for (; offered <= k; ++offered) {
          if (on_write) on_write(offered);
        }
      }
      const ssize_t w = writev(to_child_, iov.data(), static_cast<int>(n));
      for (auto left = static_cast<std::size_t>(std::max<ssize_t>(w, 0)); left > 0;) {
        const std::size_t rest = requests[sent].size() - offset;
        if (left < rest) {
          offset += left;
          break;
        }
        left -= rest;
        ++sent;
        offset = 0;
      }
      // It stopped reading: it has ended or is ending, and its stdout will say which. The
      // request it could not take is the one that ending is charged to, as in exchange().
      if (w < 0 && errno == EPIPE) {
        ++sent;
        offset = 0;
        begun = sent;
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    const ssize_t r = read(from_child_, buf, sizeof buf);
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      kill_and_reap();
      return Result::kEnded;
    }
    if (r == 0) {
      // Closed stdout: usually it exited. Give it a moment to, then make sure it has.
      if (!reap_within(1000)) kill_and_reap();
      return Result::kEnded;
    }
    auto state = reader_.feed(std::string_view(buf, static_cast<std::size_t>(r)));
    while (state == FrameReader::State::kComplete) {
      if (answered >= sent) {
        error_ = "answered before reading the whole request";
        kill_and_reap();
        return Result::kMalformed;
      }
      Frame f = reader_.take();
      if (!on_answer(answered++, f)) held = true;
      deadline = Clock::now() + timeout;
      state = reader_.feed({});  // another answer may have come in the same read
    }
    if (state == FrameReader::State::kMalformed) {
      error_ = reader_.error();
      kill_and_reap();
      return Result::kMalformed;
    }
  }
}

void ExecChild::stop(std::chrono::milliseconds grace) {
  if (!running()) return;
  // SIGTERM first, so a handler that acts on it (lifespan end) always sees it; then
  // EOF, for a handler that ignores signals but reads its stdin.
  ::kill(pid_, SIGTERM);
  close(to_child_);
  to_child_ = -1;
  if (!reap_within(static_cast<int>(grace.count()))) kill_and_reap();
}

bool ExecChild::reap_within(int ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      exit_status_ = r == pid_ ? st : 0;
      pid_ = -1;
      close_fds();
      return true;
    }
    const int left = remaining_ms(deadline);
    if (left == 0) return false;
    if (pidfd_ >= 0) {
      pollfd p{pidfd_, POLLIN, 0};
      poll(&p, 1, left);
    } else {
      usleep(1000);  // no pidfd (pre-5.3 kernel): poll the wait status
    }
  }
}

void ExecChild::kill_and_reap() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  exit_status_ = st;
  pid_ = -1;
  close_fds();
}

void ExecChild::log_stderr(std::stop_token stop, int fd) {
  // Bounded lines: a child writing without newlines cannot grow the worker's memory.
  constexpr std::size_t kMaxLine = 4096;
  std::string line;
  char buf[4096];
  auto emit = [&] {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    spdlog::info("handler: {}", line);
    line.clear();
  };
  for (;;) {
    // Polled with a timeout: a grandchild that inherited the pipe may keep it open after
    // the child is gone, and the next child's start (or the worker's end) must not wait.
    const bool last = stop.stop_requested();  // take what is there now, then end
    pollfd p{fd, POLLIN, 0};
    const int rc = poll(&p, 1, last ? 0 : 100);
    if (rc <= 0) {
      if (last) break;
      continue;
    }
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        emit();
      } else {
        line += buf[i];
        if (line.size() >= kMaxLine) emit();
      }
    }
    if (last) break;
  }
  if (!line.empty()) emit();
  close(fd);
}

void ExecChild::close_fds() {
  for (int* fd : {&to_child_, &from_child_, &pidfd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  reader_.reset();
}

}  // namespace sluice::worker
