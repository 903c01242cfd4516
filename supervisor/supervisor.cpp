#include "supervisor/supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "config/lambda_json.hpp"
#include "shm/exit_status.hpp"
#include "shm/ring.hpp"
#include "shm/stop_signal.hpp"
#include "supervisor/instance_lock.hpp"
#include "supervisor/resource_limits.hpp"
#include "supervisor/spawn.hpp"

namespace sluice::supervisor {
namespace {

std::uint64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

constexpr int kTickMs = 100;  // cadence of hung-handler checks while running
// Replies carry failure reasons and outbound records (at most half the ring each);
// pages are only touched as far as replies reach.
constexpr std::uint64_t kReplyRingBytes = 1 << 20;
constexpr std::uint32_t kEpochSlots = 4096;

void signal_child(boost::process::child& c, int sig) {
  // Only children not yet reaped are in Proc::child, so this pid is still ours.
  ::kill(c.id(), sig);
}

}  // namespace

Supervisor::Supervisor(config::Config cfg, std::string self_exe) : cfg_(std::move(cfg)), self_exe_(std::move(self_exe)) {}

Supervisor::~Supervisor() {
  // boost::process::child kills and reaps a still-running child on destruction.
  for (auto& l : lambdas_) {
    for (auto& w : l->workers) w.child.reset();
    l->consumer.child.reset();
    if (l->seg) shm::Segment::remove(l->seg->name());
  }
  if (signal_fd_ >= 0) ::close(signal_fd_);
}

int Supervisor::run() {
  // First of all: a SIGTERM that arrives while we are still reclaiming segments or
  // creating new ones must wait in the signalfd for an orderly stop, not kill us
  // half-started with the default action.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));

  ensure_open_files_limit();
  InstanceLock lock(cfg_.runtime_dir, cfg_.instance);
  // Holding the lock, any segment of this instance is a leftover of a crashed run.
  for (const auto& name : shm::Segment::list("sluice." + cfg_.instance + ".")) {
    spdlog::warn("removing stale shared memory segment /dev/shm/{} left by an earlier run", name);
    shm::Segment::remove(name);
  }

  for (const auto& lc : cfg_.lambdas) {
    auto l = std::make_unique<Lambda>();
    l->cfg = lc;
    shm::SegmentSpec spec;
    spec.name = shm::segment_name(cfg_.instance, lc.name);
    spec.workers = lc.workers;
    spec.ring_bytes = lc.ring_bytes;
    spec.reply_ring_bytes = kReplyRingBytes;
    spec.epoch_slots = kEpochSlots;
    spec.config_json = config::to_json(lc).dump();
    l->seg = shm::Segment::create(spec);
    lambdas_.push_back(std::move(l));
  }
  for (auto& l : lambdas_) start_lambda(*l);
  spdlog::info("sluice supervisor running: instance {}, {} lambda(s)", cfg_.instance, lambdas_.size());

  for (;;) {
    pollfd pfd{signal_fd_, POLLIN, 0};
    const int rc = ::poll(&pfd, 1, poll_timeout_ms());
    if (rc < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    signalfd_siginfo si{};
    while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      const int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGTERM || sig == SIGINT) {
        if (!shutting_down_) {
          spdlog::info("received SIG{}: stopping fetch, draining, committing", sigabbrev_np(sig));
          shutting_down_ = true;
          for (auto& l : lambdas_) stop_lambda(*l, false);
        } else {
          spdlog::info("received SIG{} again: already draining", sigabbrev_np(sig));
        }
      } else if (sig == SIGHUP) {
        spdlog::warn("SIGHUP: configuration reload is not supported by this build; keeping the running config");
      }
    }
    reap();
    check_timers();
    if (shutting_down_ && !any_running()) break;
    if (!shutting_down_ && std::all_of(lambdas_.begin(), lambdas_.end(), [](const auto& l) { return l->state == State::kFailed; })) {
      spdlog::error("every lambda has failed; exiting");
      return 1;
    }
  }
  for (auto& l : lambdas_) {
    if (l->seg) {
      shm::Segment::remove(l->seg->name());
      l->seg.reset();
    }
  }
  spdlog::info("sluice supervisor stopped");
  return 0;
}

void Supervisor::start_lambda(Lambda& l) {
  l.workers.resize(l.cfg.workers);
  // Workers first: the consumer may fill rings as soon as it has partitions.
  for (std::uint32_t i = 0; i < l.cfg.workers; ++i) spawn_worker(l, i);
  spawn_consumer(l);
}

void Supervisor::spawn_consumer(Lambda& l) {
  l.consumer.restart_at.reset();
  l.consumer.child = spawn_child(self_exe_, {"consumer", "--segment", l.seg->name()});
  l.consumer.started = Clock::now();
}

void Supervisor::spawn_worker(Lambda& l, std::uint32_t slot) {
  Proc& p = l.workers[slot];
  p.restart_at.reset();
  p.timeout_kill_sent = false;
  p.child = spawn_child(self_exe_, {"worker", "--segment", l.seg->name(), "--slot", std::to_string(slot)});
  p.started = Clock::now();
}

void Supervisor::reap() {
  for (auto& lp : lambdas_) {
    Lambda& l = *lp;
    auto check = [&](Proc& p, bool consumer, std::uint32_t slot) {
      if (!p.child) return;
      std::error_code ec;
      if (p.child->running(ec)) return;
      const int status = p.child->native_exit_code();
      p.child.reset();  // reaped: never signalled again
      on_exit(l, consumer, slot, status);
    };
    for (std::uint32_t i = 0; i < l.workers.size(); ++i) check(l.workers[i], false, i);
    check(l.consumer, true, 0);
  }
}

void Supervisor::on_exit(Lambda& l, bool consumer, std::uint32_t slot, int status) {
  const std::string who = consumer ? "consumer" : "worker " + std::to_string(slot);
  if (l.state == State::kStopping) {
    spdlog::info("lambda {}: {} stopped ({})", l.cfg.name, who, shm::describe_exit("process", status));
    if (consumer) {
      for (auto& w : l.workers) {
        if (w.child) signal_child(*w.child, shm::stop_request_signal());
      }
    }
    finish_stop(l);
    return;
  }
  if (l.state != State::kRunning) return;
  spdlog::warn("lambda {}: {} ended: {}", l.cfg.name, who, shm::describe_exit(consumer ? "consumer" : "worker", status));
  if (!consumer) {
    // The replacement reads this to report how a redelivered record's attempt ended.
    l.seg->ring(slot).last_exit_timeout_ms.store(l.workers[slot].timeout_kill_sent ? l.cfg.handler.timeout_ms : 0,
                                                  std::memory_order_relaxed);
    l.seg->ring(slot).last_exit_status.store(status, std::memory_order_release);
    // The dead worker's invocation is over; its start time must not time out the next one.
    l.seg->ring(slot).invocation_start_ns.store(0, std::memory_order_relaxed);
    if (!note_restart(l)) return stop_lambda(l, true);
    l.workers[slot].restart_at = Clock::now() + next_backoff(l);
    return;
  }
  // rest_for_one: the workers go with their consumer; records in the rings were never
  // committed, so the next consumer's group delivers them again.
  for (auto& w : l.workers) {
    if (w.child) {
      signal_child(*w.child, SIGKILL);
      std::error_code ec;
      w.child->wait(ec);
      w.child.reset();
    }
    w.restart_at.reset();
  }
  for (std::uint32_t i = 0; i < l.seg->workers(); ++i) {
    shm::ring_reset(l.seg->ring(i));
    shm::ring_reset(l.seg->reply_ring(i));
    l.seg->ring(i).last_exit_status.store(0, std::memory_order_relaxed);
    l.seg->ring(i).last_exit_timeout_ms.store(0, std::memory_order_relaxed);
  }
  l.seg->header().generation.fetch_add(1, std::memory_order_release);
  if (!note_restart(l)) return stop_lambda(l, true);
  l.consumer.restart_at = Clock::now() + next_backoff(l);
}

bool Supervisor::note_restart(Lambda& l) {
  const auto now = Clock::now();
  const auto window = std::chrono::seconds(cfg_.restart.window_s);
  l.restarts.push_back(now);
  while (!l.restarts.empty() && now - l.restarts.front() > window) l.restarts.pop_front();
  if (l.restarts.size() > cfg_.restart.max_restarts) {
    spdlog::error("lambda {}: {} restarts within {} s (max_restarts {}): marking it failed; other lambdas keep running",
                  l.cfg.name, l.restarts.size(), cfg_.restart.window_s, cfg_.restart.max_restarts);
    return false;
  }
  return true;
}

std::chrono::milliseconds Supervisor::next_backoff(Lambda& l) {
  const auto now = Clock::now();
  // A lambda that has been quiet for a whole window starts over at the minimum.
  if (now - l.last_failure > std::chrono::seconds(cfg_.restart.window_s)) l.consecutive = 0;
  l.last_failure = now;
  const std::uint64_t ms =
      std::min<std::uint64_t>(cfg_.restart.backoff_max_ms, std::uint64_t{cfg_.restart.backoff_min_ms}
                                                               << std::min<std::uint32_t>(l.consecutive, 20));
  ++l.consecutive;
  return std::chrono::milliseconds(ms);
}

void Supervisor::stop_lambda(Lambda& l, bool failing) {
  if (l.state != State::kRunning) return;
  l.state = State::kStopping;
  l.failing = failing;
  l.stop_deadline = Clock::now() + std::chrono::milliseconds(cfg_.shutdown_timeout_ms);
  l.consumer.restart_at.reset();
  for (auto& w : l.workers) w.restart_at.reset();
  // The consumer drains and commits first; the workers are stopped once it has exited.
  if (l.consumer.child) {
    signal_child(*l.consumer.child, shm::stop_request_signal());
  } else {
    for (auto& w : l.workers) {
      if (w.child) signal_child(*w.child, shm::stop_request_signal());
    }
  }
  finish_stop(l);
}

void Supervisor::finish_stop(Lambda& l) {
  if (l.consumer.child) return;
  for (auto& w : l.workers) {
    if (w.child) return;
  }
  l.state = l.failing ? State::kFailed : State::kStopped;
  l.stop_deadline.reset();
}

void Supervisor::check_timers() {
  const auto now = Clock::now();
  for (auto& lp : lambdas_) {
    Lambda& l = *lp;
    if (l.state == State::kStopping && l.stop_deadline && now >= *l.stop_deadline) {
      spdlog::warn("lambda {}: children still running after shutdown_timeout_ms ({} ms): killing them", l.cfg.name,
                   cfg_.shutdown_timeout_ms);
      if (l.consumer.child) signal_child(*l.consumer.child, SIGKILL);
      for (auto& w : l.workers) {
        if (w.child) signal_child(*w.child, SIGKILL);
      }
      l.stop_deadline.reset();
    }
    if (l.state != State::kRunning) continue;
    if (l.consumer.restart_at && now >= *l.consumer.restart_at) {
      spdlog::info("lambda {}: restarting consumer and workers", l.cfg.name);
      start_lambda(l);
      continue;
    }
    for (std::uint32_t i = 0; i < l.workers.size(); ++i) {
      if (l.workers[i].restart_at && now >= *l.workers[i].restart_at) {
        spdlog::info("lambda {}: restarting worker {}", l.cfg.name, i);
        spawn_worker(l, i);
      }
    }
    check_hung_handlers(l);
  }
}

void Supervisor::check_hung_handlers(Lambda& l) {
  const std::uint64_t now = mono_ns();
  // http and exec handlers time out by themselves (the request is abandoned, the child
  // killed by its worker) and report a retry; for them this kill is only a backstop for
  // a worker that hangs itself, so it waits longer.
  const std::uint64_t timeout_ms = l.cfg.handler.timeout_ms;
  const std::uint64_t limit_ms =
      l.cfg.handler.type == config::HandlerType::kPlugin ? timeout_ms : timeout_ms + std::max<std::uint64_t>(timeout_ms, 5000);
  const std::uint64_t limit = limit_ms * 1'000'000ULL;
  for (std::uint32_t i = 0; i < l.workers.size(); ++i) {
    Proc& p = l.workers[i];
    if (!p.child || p.timeout_kill_sent) continue;
    const std::uint64_t started = l.seg->ring(i).invocation_start_ns.load(std::memory_order_relaxed);
    if (started != 0 && now > started && now - started > limit) {
      // An in-process handler cannot be interrupted safely: kill its worker. The
      // attempt was counted in shm before the call, so the record cannot loop forever.
      spdlog::warn("lambda {}: worker {} handler ran past timeout_ms ({} ms): killing the worker", l.cfg.name, i,
                   l.cfg.handler.timeout_ms);
      signal_child(*p.child, SIGKILL);
      p.timeout_kill_sent = true;
    }
  }
}

int Supervisor::poll_timeout_ms() const {
  auto next = Clock::now() + std::chrono::milliseconds(kTickMs);
  for (const auto& l : lambdas_) {
    if (l->consumer.restart_at) next = std::min(next, *l->consumer.restart_at);
    for (const auto& w : l->workers) {
      if (w.restart_at) next = std::min(next, *w.restart_at);
    }
    if (l->stop_deadline) next = std::min(next, *l->stop_deadline);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms + 1, 0, kTickMs));
}

bool Supervisor::any_running() const {
  for (const auto& l : lambdas_) {
    if (l->consumer.child) return true;
    for (const auto& w : l->workers) {
      if (w.child) return true;
    }
  }
  return false;
}

}  // namespace sluice::supervisor
