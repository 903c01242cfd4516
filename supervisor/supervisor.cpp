#include "supervisor/supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "config/lambda_json.hpp"
#include "process/exit_status.hpp"
#include "process/stop_signal.hpp"
#include "shm/clock.hpp"
#include "shm/control_channel.hpp"
#include "shm/ring.hpp"
#include "shm/sealed.hpp"
#include "supervisor/admin_auth.hpp"
#include "supervisor/admin_server.hpp"
#include "supervisor/report.hpp"
#include "supervisor/instance_lock.hpp"
#include "supervisor/resource_limits.hpp"
#include "supervisor/runtime_dir.hpp"
#include "supervisor/spawn.hpp"

namespace sluice::supervisor {
namespace {

constexpr int kTickMs = 100;  // cadence of hung-handler checks while running
// Replies carry failure reasons and outbound records (at most half the ring each);
// pages are only touched as far as replies reach.
constexpr std::uint64_t kReplyRingBytes = 1 << 20;
constexpr std::uint32_t kEpochSlots = 4096;

void signal_child(boost::process::child& c, int sig) {
  // Only children not yet reaped are in Proc::child, so this pid is still ours.
  ::kill(c.id(), sig);
}

AdminResponse json_response(int status, const nlohmann::json& body) { return {status, "application/json", body.dump(2) + "\n"}; }

AdminResponse config_error(const config::ConfigError& e) {
  nlohmann::json diags = nlohmann::json::array();
  for (const auto& d : e.diagnostics()) diags.push_back(d.str());
  return json_response(422, {{"error", "invalid configuration; the running one is kept"}, {"diagnostics", diags}});
}

// The consumer is gone: whatever it had assigned is not ours any more.
// What the dead consumer reported about its partitions and connections was true of it
// only: the next one reports afresh.
void clear_assignment(const shm::Segment& seg) {
  for (std::uint32_t slot = 0; slot < seg.epoch_slots(); ++slot) {
    seg.partition_stats(slot).assigned.store(0, std::memory_order_relaxed);
    seg.partition_stats(slot).stopped.store(0, std::memory_order_relaxed);
  }
  shm::Stats& s = seg.stats();
  for (auto* gauge : {&s.stopped_partitions, &s.brokers_up, &s.brokers_known, &s.brokers_seen_ns, &s.brokers_down_ns}) {
    gauge->store(0, std::memory_order_relaxed);
  }
}

}  // namespace

Supervisor::Supervisor(config::Config cfg, Executables exes, ConfigCheck check)
    : cfg_(std::move(cfg)), exes_(std::move(exes)), check_(std::move(check)), child_env_(kSystemdOnlyEnv), worker_env_(&passes_to_workers) {}

Supervisor::~Supervisor() {
  admin_.reset();  // no request may arrive while the state goes
  for (auto& w : waiters_) w.reply->set_value(json_response(503, {{"error", "sluice is stopping"}}));
  for (auto& l : lambdas_) answer_resumes(*l, "sluice is stopping");
  // boost::process::child kills and reaps a still-running child on destruction.
  for (auto& l : lambdas_) {
    for (auto& w : l->workers) w.child.reset();
    l->consumer.child.reset();
  }
  std::error_code ec;
  if (!admin_file_.empty()) std::filesystem::remove(admin_file_, ec);
  if (!token_file_.empty()) std::filesystem::remove(token_file_, ec);
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

  if (!cfg_.admin_listen.empty()) {
    AdminAccess access;
    access.instance = cfg_.instance;
    access.reads_need_token = !cfg_.admin_token_file.empty();
    access.token = access.reads_need_token ? read_token_file(cfg_.admin_token_file) : random_token();
    // Long enough for a reload that drains lambdas before it restarts them.
    const auto limit = std::chrono::milliseconds(cfg_.shutdown_timeout_ms) + std::chrono::seconds(60);
    admin_ = std::make_unique<AdminServer>(cfg_.admin_listen, access, mailbox_, limit);
    // `sluice status` and `sluice reload` find the API here, also when the port was 0,
    // and the token made for this run beside it (the daemon's user and group may read it).
    if (!access.reads_need_token) {
      write_runtime_file(cfg_.runtime_dir, token_file_name(cfg_.instance), access.token + "\n", 0640);
      token_file_ = cfg_.runtime_dir + "/" + token_file_name(cfg_.instance);
    }
    write_runtime_file(cfg_.runtime_dir, cfg_.instance + ".admin", admin_->address() + "\n", 0644);
    admin_file_ = cfg_.runtime_dir + "/" + cfg_.instance + ".admin";
    spdlog::info("admin API listening on http://{} ({})", admin_->address(),
                 access.reads_need_token ? "bearer token from admin_token_file required"
                                         : "changes need the bearer token in " + token_file_);
  }

  for (const auto& lc : cfg_.lambdas) add_lambda(lc);
  spdlog::info("sluice supervisor running: instance {}, {} lambda(s)", cfg_.instance, lambdas_.size());

  std::vector<pollfd> pfd;
  std::vector<std::optional<ChildOutput>*> outputs;  // the worker pipe of each pfd entry from `first_output`
  for (;;) {
    pfd.assign({{signal_fd_, POLLIN, 0}, {mailbox_.fd(), POLLIN, 0}});
    for (const auto& l : lambdas_) {
      if (l->control) pfd.push_back({l->control.get(), POLLIN, 0});
    }
    const std::size_t first_output = pfd.size();
    outputs.clear();
    for (auto& l : lambdas_) {
      for (auto& w : l->workers) {
        if (!w.output || w.output->fd() < 0) continue;
        pfd.push_back({w.output->fd(), POLLIN, 0});
        outputs.push_back(&w.output);
      }
    }
    int timeout = poll_timeout_ms();
    if (const auto tick = notifier_.until_tick()) timeout = std::min<int>(timeout, static_cast<int>(tick->count()));
    const int rc = ::poll(pfd.data(), pfd.size(), timeout);
    if (rc < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    // First, before anything can end a worker or drop a lambda: the pointers are current.
    for (std::size_t i = 0; rc > 0 && i < outputs.size(); ++i) {
      if (pfd[first_output + i].revents == 0) continue;
      auto& output = *outputs[i];
      if (!output->drain()) output.reset();
    }
    signalfd_siginfo si{};
    while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      const int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGTERM || sig == SIGINT) {
        if (!shutting_down_) {
          spdlog::info("received SIG{}: stopping fetch, draining, committing", sigabbrev_np(sig));
          begin_shutdown("stopping");
        } else {
          spdlog::info("received SIG{} again: already draining", sigabbrev_np(sig));
        }
      } else if (sig == SIGHUP && !shutting_down_) {
        spdlog::info("received SIGHUP: reloading {}", cfg_.source);
        reload(nullptr);
      }
    }
    if ((pfd[1].revents & POLLIN) != 0) {
      for (auto& request : mailbox_.take()) serve(std::move(request));
    }
    reap();
    for (auto& l : lambdas_) {
      if (l->control) serve_control(*l);
    }
    check_timers();
    sweep();
    track_readiness();
    answer_waiters();
    notify_progress();
    notifier_.tick();
    if (shutting_down_ && !any_running()) break;
    const bool all_failed = std::none_of(lambdas_.begin(), lambdas_.end(), [](const auto& l) {
      return !deregistered(*l) && l->state != State::kFailed;
    });
    if (!shutting_down_ && all_failed &&
        std::any_of(lambdas_.begin(), lambdas_.end(), [](const auto& l) { return !deregistered(*l); })) {
      spdlog::error("every lambda has failed; exiting");
      notifier_.status("every lambda has failed");
      return 1;
    }
  }
  for (auto& l : lambdas_) l->seg.reset();
  spdlog::info("sluice supervisor stopped");
  return 0;
}

void Supervisor::begin_shutdown(const char* why) {
  shutting_down_ = true;
  notifier_.stopping();
  notifier_.status(why);
  for (auto& l : lambdas_) {
    if (next_config(*l) != nullptr) l->after_stop = std::monostate{};
    stop_lambda(*l, false);
  }
}

Supervisor::Lambda& Supervisor::add_lambda(const config::Lambda& cfg) {
  auto l = std::make_unique<Lambda>();
  l->cfg = cfg;
  l->restarts = RestartPolicy(cfg_.restart);
  Lambda& ref = *l;
  lambdas_.push_back(std::move(l));
  try {
    make_segment(ref);
  } catch (const std::exception& e) {
    // One lambda that cannot get its memory must not take the others down.
    spdlog::error("lambda {}: {}; marking it failed", cfg.name, e.what());
    transition(ref, State::kFailed);
    ref.failure = e.what();
    return ref;
  }
  start_lambda(ref);
  return ref;
}

void Supervisor::make_segment(Lambda& l) {
  shm::SegmentSpec spec;
  spec.name = "sluice." + cfg_.instance + "." + l.cfg.name;
  spec.workers = l.cfg.workers;
  spec.ring_bytes = l.cfg.ring_bytes;
  spec.reply_ring_bytes = kReplyRingBytes;
  spec.epoch_slots = kEpochSlots;
  // Workers (and so plugins, which run in them) get no Kafka client properties:
  // sasl.password and the like are the consumer's business alone. (The broker list stays:
  // the aws format names it in every event.)
  auto for_workers = config::to_json(l.cfg);
  for_workers["kafka_properties"] = nlohmann::json::object();
  spec.config_json = for_workers.dump();
  l.seg = shm::Segment::create(spec);
  l.consumer_config = shm::make_sealed(spec.name + ".config", config::to_json(l.cfg).dump());
}

void Supervisor::replace(Lambda& l, const config::Lambda& cfg) {
  l.after_stop = StartWith{cfg};
  if (active(l)) stop_lambda(l, false);
  // Stopping: sweep() starts `next` once it has stopped. Stopped or failed: at once.
}

void Supervisor::sweep() {
  for (auto it = lambdas_.begin(); it != lambdas_.end();) {
    Lambda& l = **it;
    if (l.state != State::kStopped && l.state != State::kFailed) {
      ++it;
      continue;
    }
    if (!std::holds_alternative<std::monostate>(l.after_stop)) l.seg.reset();
    if (removing(l)) {
      spdlog::info("lambda {}: removed", l.cfg.name);
      it = lambdas_.erase(it);
      continue;
    }
    if (auto* next = std::get_if<StartWith>(&l.after_stop); next != nullptr && !shutting_down_) {
      spdlog::info("lambda {}: starting with its new configuration", l.cfg.name);
      l.cfg = std::move(next->cfg);
      l.after_stop = std::monostate{};
      transition(l, State::kStarting);
      l.failing = false;
      l.restarts = RestartPolicy(cfg_.restart);
      l.failure.clear();
      l.consumer = Proc{};
      l.workers.clear();
      try {
        make_segment(l);
        start_lambda(l);
      } catch (const std::exception& e) {
        spdlog::error("lambda {}: {}; marking it failed", l.cfg.name, e.what());
        transition(l, State::kFailed);
        l.failure = e.what();
      }
    }
    ++it;
  }
}

void Supervisor::start_lambda(Lambda& l) {
  l.workers.resize(l.cfg.workers);
  // Workers first: the consumer may fill rings as soon as it has partitions.
  for (std::uint32_t i = 0; i < l.cfg.workers; ++i) spawn_worker(l, i);
  spawn_consumer(l);
}

void Supervisor::spawn_consumer(Lambda& l) {
  l.consumer.restart_at.reset();
  l.consumer.timeout_kill_sent = false;
  l.seg->header().consumer_pid.store(0, std::memory_order_relaxed);
  l.seg->header().consumer_heartbeat_ns.store(0, std::memory_order_relaxed);
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0) {
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  }
  l.control.reset(pair[0]);
  const shm::UniqueFd theirs(pair[1]);
  std::vector<std::string> args = {"consumer", "--instance", cfg_.instance, "--lambda", l.cfg.name, "--segment-fd",
                                   std::to_string(l.seg->fd()), "--layout-fd", std::to_string(l.seg->sealed_fd()),
                                   "--control-fd", std::to_string(theirs.get()), "--config-fd",
                                   std::to_string(l.consumer_config.get())};
  std::vector<int> fds = {l.seg->fd(), l.seg->sealed_fd(), theirs.get(), l.consumer_config.get()};
  shm::UniqueFd carried;
  if (!l.carried.empty()) {
    carried = shm::make_sealed("sluice." + cfg_.instance + "." + l.cfg.name + ".carried", shm::encode_carried(l.carried));
    args.insert(args.end(), {"--carried-fd", std::to_string(carried.get())});
    fds.push_back(carried.get());
    l.carried.clear();
  }
  l.consumer.child = spawn_child(exes_.sluice, args, child_env_, fds);
  l.consumer.started = Clock::now();
}

void Supervisor::spawn_worker(Lambda& l, std::uint32_t slot) {
  Proc& p = l.workers[slot];
  p.restart_at.reset();
  p.timeout_kill_sent = false;
  l.seg->worker_slot(slot).reader_pid.store(0, std::memory_order_relaxed);
  // An outage the dead worker saw is for the new one to find again.
  l.seg->worker_stats(slot).unavailable_since_ns.store(0, std::memory_order_relaxed);
  const std::string& exe = l.cfg.handler.type == config::HandlerType::kHttp ? exes_.http_worker : exes_.worker;
  std::vector<std::string> args{"--instance", cfg_.instance, "--lambda", l.cfg.name, "--slot", std::to_string(slot), "--segment-fd", std::to_string(l.seg->fd()),
                                "--layout-fd", std::to_string(l.seg->sealed_fd())};
  std::vector<int> inherit{l.seg->fd(), l.seg->sealed_fd()};
  if (p.output) p.output->drain();  // the last one's, if a grandchild still held the pipe
  p.output = ChildOutput::open("lambda " + l.cfg.name + ": worker " + std::to_string(slot));
  if (p.output) {
    args.insert(args.end(), {"--output-fd", std::to_string(p.output->child_end())});
    inherit.push_back(p.output->child_end());
  }
  p.child = spawn_child(exe, args, worker_env_, inherit);
  if (p.output) p.output->close_child_end();
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
      const pid_t pid = p.child->id();
      p.child.reset();  // reaped: never signalled again
      on_exit(l, consumer, slot, status, pid);
    };
    for (std::uint32_t i = 0; i < l.workers.size(); ++i) check(l.workers[i], false, i);
    check(l.consumer, true, 0);
  }
}

void Supervisor::on_exit(Lambda& l, bool consumer, std::uint32_t slot, int status, pid_t pid) {
  const std::string who = consumer ? "consumer" : "worker " + std::to_string(slot);
  // Up means registered in the segment: a worker once its handler started, a consumer
  // once it subscribed. Ending before that is a failed start, not a crash.
  const bool started = consumer ? l.seg->header().consumer_pid.load(std::memory_order_acquire) == pid
                                : l.seg->worker_slot(slot).reader_pid.load(std::memory_order_acquire) == pid;
  // Nobody reads this ring now: a stopping consumer need not wait for what it holds.
  if (!consumer) l.seg->worker_slot(slot).reader_pid.store(0, std::memory_order_release);
  // Its last words (a crash report, a sanitizer's) before the line that says it ended.
  if (!consumer && l.workers[slot].output) l.workers[slot].output->drain();
  if (l.state == State::kStopping) {
    spdlog::info("lambda {}: {} stopped ({})", l.cfg.name, who, process::describe_exit("process", status));
    if (consumer) {
      clear_assignment(*l.seg);
      for (auto& w : l.workers) {
        if (w.child) signal_child(*w.child, process::stop_request_signal());
      }
    }
    finish_stop(l);
    return;
  }
  if (!active(l)) return;
  const std::string how = process::describe_exit(consumer ? "consumer" : "worker", status);
  spdlog::warn("lambda {}: {} ended: {}", l.cfg.name, who, how);
  if (!consumer) {
    Proc& w = l.workers[slot];
    if (!w.reset_pending && WIFEXITED(status) && WEXITSTATUS(status) == shm::kExitCorruptRing) {
      // Its records are the consumer's to deliver again; the ring is reset once it has
      // stopped writing to it (serve_control), and only then is a worker started on it.
      w.awaiting_quarantine = true;
      if (!l.control || !shm::send_control(l.control.get(), {shm::ControlKind::kCorrupt, slot})) {
        w.awaiting_quarantine = false;  // no consumer to ask: its restart resets every ring
      }
    }
    // The replacement reads this to report how a redelivered record's attempt ended.
    l.seg->worker_slot(slot).last_exit_timeout_ms.store(l.workers[slot].timeout_kill_sent ? l.cfg.handler.timeout_ms : 0,
                                                  std::memory_order_relaxed);
    l.seg->worker_slot(slot).last_exit_status.store(status, std::memory_order_release);
    // The dead worker's invocation is over; its start time must not time out the next one.
    l.seg->worker_slot(slot).invocation_start_ns.store(0, std::memory_order_relaxed);
    if (!note_restart(l, who + ": " + how, started)) return stop_lambda(l, true);
    ++l.worker_restarts;
    if (w.reset_pending) reset_worker_rings(l, slot);
    if (!w.awaiting_quarantine) w.restart_at = Clock::now() + l.restarts.backoff();
    return;
  }
  // rest_for_one: the workers go with their consumer; records in the rings were never
  // committed, so the next consumer's group delivers them again.
  l.control.reset();
  answer_resumes(l, "its consumer ended before it answered; the next one starts every partition afresh");
  for (auto& w : l.workers) {
    w.reset_pending = false;
    w.awaiting_quarantine = false;
    if (w.child) {
      signal_child(*w.child, SIGKILL);
      std::error_code ec;
      w.child->wait(ec);
      w.child.reset();
    }
    w.restart_at.reset();
  }
  l.carried.clear();
  for (std::uint32_t i = 0; i < l.seg->workers(); ++i) {
    constexpr std::size_t kMaxCarried = 65536;
    for (const auto& c : shm::pending_attempts(l.seg->forward(i), kMaxCarried - l.carried.size())) l.carried.push_back(c);
  }
  for (std::uint32_t i = 0; i < l.seg->workers(); ++i) {
    shm::ring_reset(l.seg->ring(i));
    shm::ring_reset(l.seg->reply_ring(i));
    l.seg->worker_slot(i).last_exit_status.store(0, std::memory_order_relaxed);
    l.seg->worker_slot(i).last_exit_timeout_ms.store(0, std::memory_order_relaxed);
    l.seg->worker_slot(i).invocation_start_ns.store(0, std::memory_order_relaxed);
  }
  clear_assignment(*l.seg);
  if (!note_restart(l, who + ": " + how, started)) return stop_lambda(l, true);
  ++l.consumer_restarts;
  l.consumer.restart_at = Clock::now() + l.restarts.backoff();
}

bool Supervisor::note_restart(Lambda& l, const std::string& how, bool started) {
  auto failure = l.restarts.ended(how, started);
  if (!failure) return true;
  l.failure = std::move(*failure);
  spdlog::error("lambda {}: {}: marking it failed; other lambdas keep running (fix it, then `sluice reload` or "
                "`sluice register {}` starts it again)",
                l.cfg.name, l.failure, l.cfg.name);
  return false;
}

void Supervisor::track_readiness() {
  const auto now = Clock::now();
  for (auto& lp : lambdas_) {
    Lambda& l = *lp;
    if (!active(l)) {
      l.restarts.observe(false, now);
      continue;
    }
    l.restarts.observe(ready(l), now);
  }
}

void Supervisor::stop_lambda(Lambda& l, bool failing) {
  if (!active(l)) return;
  transition(l, State::kStopping);
  l.failing = failing;
  l.stop_deadline = Clock::now() + std::chrono::milliseconds(cfg_.shutdown_timeout_ms);
  l.consumer.restart_at.reset();
  for (auto& w : l.workers) w.restart_at.reset();
  // The consumer drains and commits first; the workers are stopped once it has exited.
  if (l.consumer.child) {
    signal_child(*l.consumer.child, process::stop_request_signal());
  } else {
    for (auto& w : l.workers) {
      if (w.child) signal_child(*w.child, process::stop_request_signal());
    }
  }
  finish_stop(l);
}

void Supervisor::finish_stop(Lambda& l) {
  if (l.consumer.child) return;
  for (auto& w : l.workers) {
    if (w.child) return;
  }
  transition(l, l.failing ? State::kFailed : State::kStopped);
  l.stop_deadline.reset();
  answer_resumes(l, "the lambda stopped before its consumer answered");
}

void Supervisor::answer_resumes(Lambda& l, const std::string& why) {
  for (auto& reply : l.resumes) reply->set_value(json_response(503, {{"error", why}}));
  l.resumes.clear();
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
    if (!active(l)) continue;
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
    check_consumer_progress(l);
  }
}

void Supervisor::serve_control(Lambda& l) {
  while (l.control) {
    const auto m = shm::receive_control(l.control.get());
    if (!m) return;
    if (m->kind == shm::ControlKind::kResumed) {
      if (!l.resumes.empty()) {
        l.resumes.front()->set_value(json_response(200, {{"lambda", l.cfg.name}, {"resumed", m->slot}}));
        l.resumes.pop_front();
      }
      continue;
    }
    if (m->kind != shm::ControlKind::kQuarantined || m->slot >= l.workers.size()) continue;
    Proc& w = l.workers[m->slot];
    w.reset_pending = true;
    if (w.child) {
      // Reset once it is reaped (on_exit): until then it may still write to the ring.
      signal_child(*w.child, SIGKILL);
      continue;
    }
    // Already dead (it exited saying its ring is corrupt, or crashed): reset now.
    reset_worker_rings(l, m->slot);
    if (w.awaiting_quarantine) {
      w.awaiting_quarantine = false;
      if (active(l)) w.restart_at = Clock::now() + l.restarts.backoff();
    }
  }
}

void Supervisor::resume(AdminRequest request) {
  auto respond = [&](int status, nlohmann::json body) { request.reply->set_value(json_response(status, std::move(body))); };
  Lambda* l = find(request.name);
  if (l == nullptr) return respond(404, {{"error", "no lambda named \"" + request.name + "\" is running"}});
  if (!active(*l) || !l->control) {
    return respond(409, {{"error", "lambda " + request.name + " is " + std::string(name_of(state_of(*l))) +
                                       ": nothing to resume"}});
  }
  shm::ControlMessage m{shm::ControlKind::kResume, 0};
  if (!request.topic.empty()) {
    const auto it = std::find(l->cfg.topics.begin(), l->cfg.topics.end(), request.topic);
    if (it == l->cfg.topics.end()) {
      return respond(404, {{"error", "lambda " + request.name + " does not consume topic \"" + request.topic + "\""}});
    }
    m.topic_index = static_cast<std::uint32_t>(it - l->cfg.topics.begin());
    m.partition = request.partition;
  }
  if (!shm::send_control(l->control.get(), m)) return respond(503, {{"error", "the consumer cannot be reached; try again"}});
  spdlog::info("lambda {}: resume of stopped partitions requested through the admin API{}", l->cfg.name,
               request.topic.empty() ? "" : " (" + request.topic + (request.partition < 0 ? "" : "[" + std::to_string(request.partition) + "]") + ")");
  l->resumes.push_back(request.reply);  // answered when the consumer says how many it resumed
}

void Supervisor::reset_worker_rings(Lambda& l, std::uint32_t slot) {
  Proc& w = l.workers[slot];
  w.reset_pending = false;
  shm::ring_reset(l.seg->ring(slot));
  shm::ring_reset(l.seg->reply_ring(slot));
  spdlog::warn("lambda {}: worker {} broke its ring; the ring is reset and its records are delivered again", l.cfg.name,
               slot);
  if (l.control) shm::send_control(l.control.get(), {shm::ControlKind::kReset, slot});
}

void Supervisor::check_consumer_progress(Lambda& l) {
  if (!l.consumer.child || l.consumer.timeout_kill_sent || !ready(l)) return;
  // The consumer loop stamps the segment on every pass (and while it drains); a loop
  // that stopped (a deadlock, a call that never returns) would otherwise hold its
  // partitions, unhandled and uncommitted, with every signal saying "running".
  const std::uint64_t beat = l.seg->header().consumer_heartbeat_ns.load(std::memory_order_relaxed);
  const std::uint64_t now = shm::monotonic_ns();
  const std::uint64_t limit = std::uint64_t{cfg_.restart.consumer_stall_s} * 1'000'000'000ULL;
  if (beat != 0 && now > beat && now - beat > limit) {
    spdlog::error("lambda {}: its consumer made no progress for {} s (consumer_stall_s): killing it", l.cfg.name,
                  (now - beat) / 1'000'000'000ULL);
    signal_child(*l.consumer.child, SIGKILL);
    l.consumer.timeout_kill_sent = true;
  }
}

void Supervisor::check_hung_handlers(Lambda& l) {
  const std::uint64_t now = shm::monotonic_ns();
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
    const std::uint64_t started = l.seg->worker_slot(i).invocation_start_ns.load(std::memory_order_relaxed);
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

// ---- reload and the admin API ------------------------------------------------------

std::optional<std::set<std::string>> Supervisor::reload(AdminResponse* failure) {
  notifier_.reloading();
  config::Config next;
  try {
    next = load_checked(nullptr);
  } catch (const config::ConfigError& e) {
    spdlog::error("reload: {} has errors; keeping the running configuration:", cfg_.source);
    for (const auto& d : e.diagnostics()) spdlog::error("  {}", d.str());
    if (failure != nullptr) *failure = config_error(e);
    notifier_.ready();
    return std::nullopt;
  } catch (const std::exception& e) {
    spdlog::error("reload: {}; keeping the running configuration", e.what());
    if (failure != nullptr) *failure = json_response(500, {{"error", e.what()}});
    notifier_.ready();
    return std::nullopt;
  }
  auto touched = apply(next);
  if (!reloading_) reloading_.emplace();
  reloading_->insert(touched.begin(), touched.end());
  return touched;
}

std::set<std::string> Supervisor::apply(const config::Config& next) {
  auto keep = [&](const char* key, const std::string& now, const std::string& then) {
    if (now != then) spdlog::warn("reload: {} changed from \"{}\" to \"{}\"; this takes a restart of sluice", key, now, then);
  };
  keep("instance", cfg_.instance, next.instance);
  keep("runtime_dir", cfg_.runtime_dir, next.runtime_dir);
  keep("admin_listen", cfg_.admin_listen, next.admin_listen);
  keep("admin_token_file", cfg_.admin_token_file, next.admin_token_file);
  cfg_.lambdas_dir = next.lambdas_dir;
  cfg_.shutdown_timeout_ms = next.shutdown_timeout_ms;
  cfg_.restart = next.restart;
  for (auto& l : lambdas_) l->restarts.reconfigure(cfg_.restart);
  cfg_.bootstrap_servers = next.bootstrap_servers;
  cfg_.kafka_properties = next.kafka_properties;

  std::vector<std::pair<std::string, Running>> running;
  for (const auto& l : lambdas_) {
    const config::Lambda* cfg = next_config(*l);
    running.push_back({l->cfg.name, Running{cfg != nullptr ? cfg : &l->cfg, deregistered(*l), removing(*l),
                                            l->state == State::kFailed && cfg == nullptr}});
  }
  std::set<std::string> touched;
  for (const ReloadStep& step : plan_reload(running, next.lambdas)) {
    Lambda* l = find(step.name);
    switch (step.action) {
      case ReloadAction::kAdd:
        spdlog::info("reload: new lambda {}", step.name);
        add_lambda(*step.cfg);
        break;
      case ReloadAction::kKeepConfig:
        l->cfg = *step.cfg;  // stays stopped until registered again
        continue;
      case ReloadAction::kRestart:
        spdlog::info("reload: lambda {} changed; restarting it", step.name);
        replace(*l, *step.cfg);
        break;
      case ReloadAction::kRetry:
        spdlog::info("reload: lambda {} had failed; starting it again", step.name);
        replace(*l, *step.cfg);
        break;
      case ReloadAction::kRemove:
        spdlog::info("reload: lambda {} is gone from the configuration; stopping it", step.name);
        l->after_stop = Remove{};
        stop_lambda(*l, false);
        break;
    }
    touched.insert(step.name);
  }
  cfg_.lambdas = next.lambdas;
  return touched;
}

config::Config Supervisor::load_checked(const std::string* only_lambda) const {
  config::Config c = only_lambda == nullptr ? config::load(cfg_.source) : config::load_one(cfg_.source, *only_lambda);
  if (check_) {
    if (auto diags = check_(c); !diags.empty()) throw config::ConfigError(std::move(diags));
  }
  return c;
}

Supervisor::Lambda* Supervisor::find(const std::string& name) {
  for (auto& l : lambdas_) {
    if (l->cfg.name == name) return l.get();
  }
  return nullptr;
}

bool Supervisor::ready(const Lambda& l) const {
  if (!active(l) || !l.seg || !l.consumer.child) return false;
  if (l.seg->header().consumer_pid.load(std::memory_order_acquire) != l.consumer.child->id()) return false;
  for (std::uint32_t i = 0; i < l.workers.size(); ++i) {
    if (!l.workers[i].child) return false;
    if (l.seg->worker_slot(i).reader_pid.load(std::memory_order_relaxed) != l.workers[i].child->id()) return false;
  }
  return true;
}

bool Supervisor::settled(const std::string& name) {
  const Lambda* l = find(name);
  if (l == nullptr) return true;  // removed
  if (next_config(*l) != nullptr || removing(*l)) return false;
  switch (l->state) {
    case State::kStarting:  // active (see Lambda::state)
    case State::kRunning: return ready(*l);
    case State::kStopping: return false;
    case State::kStopped:
    case State::kFailed: return true;
  }
  return true;
}

LambdaState Supervisor::state_of(const Lambda& l) const {
  // Read live, not the state of the last pass: a process may have ended since.
  if (active(l)) return ready(l) ? State::kRunning : State::kStarting;
  return l.state;
}

const config::Lambda* Supervisor::next_config(const Lambda& l) {
  const auto* next = std::get_if<StartWith>(&l.after_stop);
  return next != nullptr ? &next->cfg : nullptr;
}

bool Supervisor::active(const Lambda& l) { return l.state == State::kStarting; }

void Supervisor::transition(Lambda& l, State to) {
  if (l.state == to) return;
  spdlog::debug("lambda {}: {} -> {}", l.cfg.name, name_of(l.state), name_of(to));
  l.state = to;
}

void Supervisor::serve(AdminRequest request) {
  auto respond = [&](AdminResponse r) { request.reply->set_value(std::move(r)); };
  switch (request.action) {
    case AdminAction::kLambdas: return respond(lambdas_json());
    case AdminAction::kMetrics: return respond(metrics_text());
    case AdminAction::kHealth: return respond(health());
    default: break;
  }
  if (shutting_down_) return respond(json_response(503, {{"error", "sluice is stopping"}}));
  if (request.action == AdminAction::kResume) return resume(std::move(request));
  std::set<std::string> touched;
  if (request.action == AdminAction::kReload || request.action == AdminAction::kReloadNoWait) {
    spdlog::info("reload requested through the admin API");
    AdminResponse failure;
    const auto names = reload(&failure);
    if (!names) return respond(std::move(failure));
    touched = *names;
    nlohmann::json list = std::vector<std::string>(touched.begin(), touched.end());
    if (request.action == AdminAction::kReloadNoWait) return respond(json_response(202, {{"changed", list}}));
    waiters_.push_back(Waiter{touched, request.reply, [this, list] {
                                nlohmann::json states = nlohmann::json::object();
                                for (const auto& n : list) {
                                  const Lambda* l = find(n.get<std::string>());
                                  states[n.get<std::string>()] = l == nullptr ? "removed" : name_of(state_of(*l));
                                }
                                return json_response(200, {{"changed", list}, {"lambdas", states}});
                              }});
    return;
  }
  const std::string name = request.name;
  if (request.action == AdminAction::kRegister) {
    AdminResponse early = register_lambda(name, touched);
    if (touched.empty()) return respond(std::move(early));
  } else {
    Lambda* l = find(name);
    if (l == nullptr) return respond(json_response(404, {{"error", "no lambda named \"" + name + "\" is running"}}));
    spdlog::info("lambda {}: deregistered through the admin API; stopping it", name);
    l->after_stop = StayStopped{};
    stop_lambda(*l, false);
    touched.insert(name);
  }
  waiters_.push_back(Waiter{touched, request.reply, [this, name] {
                              const Lambda* l = find(name);
                              const bool failed = l != nullptr && state_of(*l) == State::kFailed;
                              const std::string_view state = l == nullptr ? "removed" : name_of(state_of(*l));
                              const int status = failed ? 500 : 200;
                              nlohmann::json body = {{"lambda", name}, {"state", state}};
                              if (status != 200) body["error"] = "lambda " + name + " failed to start; see the log";
                              return json_response(status, body);
                            }});
}

AdminResponse Supervisor::register_lambda(const std::string& name, std::set<std::string>& touched) {
  config::Config c;
  try {
    c = load_checked(&name);
  } catch (const config::ConfigError& e) {
    return config_error(e);
  } catch (const std::exception& e) {
    return json_response(500, {{"error", e.what()}});
  }
  const auto it = std::find_if(c.lambdas.begin(), c.lambdas.end(), [&](const auto& l) { return l.name == name; });
  if (it == c.lambdas.end()) {
    return json_response(404, {{"error", "no lambda named \"" + name + "\": no file " + c.lambdas_dir + "/" + name +
                                             ".toml defines it, nor does " + cfg_.source}});
  }
  if (Lambda* l = find(name)) {
    // OpenLambda's register cleans up a running lambda first: always a fresh start.
    spdlog::info("lambda {}: registered through the admin API; restarting it", name);
    replace(*l, *it);
  } else {
    spdlog::info("lambda {}: registered through the admin API; starting it", name);
    add_lambda(*it);
  }
  touched.insert(name);
  return {};
}

void Supervisor::answer_waiters() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (std::all_of(it->names.begin(), it->names.end(), [&](const auto& n) { return settled(n); })) {
      it->reply->set_value(it->answer());
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
}

void Supervisor::notify_progress() {
  if (shutting_down_) return;
  auto all_settled = [&](const auto& names) {
    return std::all_of(names.begin(), names.end(), [&](const auto& n) { return settled(n); });
  };
  if (!ready_sent_) {
    std::vector<std::string> names;
    for (const auto& l : lambdas_) names.push_back(l->cfg.name);
    if (!all_settled(names)) return;
    ready_sent_ = true;
    notifier_.ready();
    const auto failed = std::count_if(lambdas_.begin(), lambdas_.end(), [](const auto& l) { return l->state == State::kFailed; });
    if (failed == 0) {
      spdlog::info("ready: every lambda has started");
    } else {
      spdlog::warn("ready: every lambda has started or failed ({} failed)", failed);
    }
  }
  if (reloading_ && all_settled(*reloading_)) {
    reloading_.reset();
    notifier_.ready();
    spdlog::info("reload complete");
  }
  std::size_t running = 0, stopped = 0, other = 0;
  std::vector<std::string> failed;
  for (const auto& l : lambdas_) {
    const State st = state_of(*l);
    if (st == State::kFailed) {
      failed.push_back(l->cfg.name);
      continue;
    }
    (st == State::kRunning ? running : st == State::kStopped ? stopped : other)++;
  }
  std::string line = std::to_string(running) + " lambda(s) running";
  if (!failed.empty()) line += ", " + std::to_string(failed.size()) + " failed: " + fmt::format("{}", fmt::join(failed, " "));
  if (stopped > 0) line += ", " + std::to_string(stopped) + " stopped";
  if (other > 0) line += ", " + std::to_string(other) + " starting or stopping";
  notifier_.status(line);
}

LambdaReport Supervisor::report_of(const Lambda& l) const {
  auto r = read_report(l.cfg, l.seg ? &*l.seg : nullptr, state_of(l), shm::monotonic_ns());
  r.worker_restarts = l.worker_restarts;
  r.consumer_restarts = l.consumer_restarts;
  r.failure = l.failure;
  r.last_exit = l.restarts.last_exit();
  r.restarts_in_a_row = l.restarts.in_a_row();
  return r;
}

AdminResponse Supervisor::lambdas_json() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& l : lambdas_) list.push_back(to_json(report_of(*l)));
  return json_response(200, {{"instance", cfg_.instance}, {"lambdas", list}});
}

AdminResponse Supervisor::metrics_text() {
  std::vector<LambdaReport> reports;
  for (const auto& l : lambdas_) {
    LambdaReport& r = reports.emplace_back(report_of(*l));
    // Only here: /proc is read per process, which /healthz and /lambdas need not pay.
    auto sample = [&](const Proc& p, const char* role, std::uint32_t slot) {
      if (!p.child) return;
      if (auto st = read_process_stats(p.child->id())) r.processes.push_back({role, slot, *st});
    };
    sample(l->consumer, "consumer", 0);
    for (std::uint32_t i = 0; i < l->workers.size(); ++i) sample(l->workers[i], "worker", i);
  }
  return {200, "text/plain; version=0.0.4; charset=utf-8", to_prometheus(reports, read_process_stats(::getpid()))};
}

AdminResponse Supervisor::health() {
  if (shutting_down_) return json_response(503, {{"status", "stopping"}});
  // 200 only when everything that should run does; each lambda says what is wrong.
  std::vector<Health> all;
  nlohmann::json lambdas = nlohmann::json::object();
  for (const auto& l : lambdas_) {
    all.push_back(health_of(report_of(*l)));
    lambdas[l->cfg.name] = {{"status", all.back().status}, {"reasons", all.back().reasons}};
  }
  const std::string status = overall_health(all);
  return json_response(status == "ok" ? 200 : 503, {{"status", status}, {"lambdas", lambdas}});
}

}  // namespace sluice::supervisor
