#include "supervisor/lambda_lifecycle.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "config/lambda_json.hpp"
#include "process/exit_status.hpp"
#include "process/stop_signal.hpp"
#include "shm/clock.hpp"
#include "shm/ring.hpp"
#include "shm/sealed.hpp"
#include "supervisor/json_response.hpp"

namespace sluice::supervisor {
namespace {

// Replies carry failure reasons and outbound records (at most half the ring each);
// pages are only touched as far as replies reach.
constexpr std::uint64_t kReplyRingBytes = 1 << 20;
constexpr std::uint32_t kEpochSlots = 4096;

// The consumer is gone: whatever it had assigned is not ours any more.
// What the dead consumer reported about its partitions and connections was true of it
// only: the next one reports afresh.
void clear_assignment(const shm::Segment& seg) {
  for (std::uint32_t slot = 0; slot < seg.epoch_slots(); ++slot) {
    seg.partition_stats(slot).assigned.store(0, std::memory_order_relaxed);
    seg.partition_stats(slot).stopped.store(0, std::memory_order_relaxed);
  }
  shm::Stats& s = seg.stats();
  for (auto* gauge : {&s.stopped_partitions, &s.brokers_up, &s.brokers_known, &s.brokers_seen_ns, &s.brokers_down_ns,
                      &s.group_state, &s.group_join_state, &s.group_unsettled_ns}) {
    gauge->store(0, std::memory_order_relaxed);
  }
}

}  // namespace

Now Now::read() { return {std::chrono::steady_clock::now(), shm::monotonic_ns()}; }

LambdaLifecycle::LambdaLifecycle(const config::Config& daemon, const Executables& exes, Spawner& spawner,
                                 config::Lambda cfg)
    : daemon_(daemon), exes_(exes), spawner_(spawner), cfg_(std::move(cfg)), restarts_(daemon.restart) {}

LambdaLifecycle::~LambdaLifecycle() {
  answer_resumes("sluice is stopping");
  for (auto& w : workers_) w.child.reset();
  consumer_.child.reset();
}

void LambdaLifecycle::start(Now now) {
  try {
    make_segment();
  } catch (const std::exception& e) {
    spdlog::error("lambda {}: {}; marking it failed", cfg_.name, e.what());
    failure_ = e.what();
    transition(LambdaState::kFailed);
    return;
  }
  start_processes(now);
}

void LambdaLifecycle::make_segment() {
  shm::SegmentSpec spec;
  spec.name = "sluice." + daemon_.instance + "." + cfg_.name;
  spec.workers = cfg_.workers;
  spec.ring_bytes = cfg_.ring_bytes;
  spec.reply_ring_bytes = kReplyRingBytes;
  spec.epoch_slots = kEpochSlots;
  // Workers (and so plugins, which run in them) get no Kafka client properties:
  // sasl.password and the like are the consumer's business alone. (The broker list stays:
  // the aws format names it in every event.)
  auto for_workers = config::to_json(cfg_);
  for_workers["kafka_properties"] = nlohmann::json::object();
  spec.config_json = for_workers.dump();
  seg_ = shm::Segment::create(spec);
  consumer_config_ = shm::make_sealed(spec.name + ".config", config::to_json(cfg_).dump());
}

void LambdaLifecycle::start_processes(Now now) {
  workers_.resize(cfg_.workers);
  try {
    // Workers first: the consumer may fill rings as soon as it has partitions.
    for (std::uint32_t i = 0; i < cfg_.workers; ++i) spawn_worker(i);
    spawn_consumer();
  } catch (const std::exception& e) {
    // Like a consumer that ended before it was up (fork can fail for want of memory or
    // of tasks, and that may pass): what did start goes with it, and all of it is tried
    // again after backoff; start_attempts of these in a row fail the lambda.
    const std::string how = std::string("cannot start its processes: ") + e.what();
    spdlog::error("lambda {}: {}", cfg_.name, how);
    on_consumer_exit();
    if (!note_restart(how, false)) return stop_processes(true, now);
    ++consumer_restarts_;  // as for a consumer that ended: the metric counts what the policy counts
    consumer_.restart_at = now.at + restarts_.backoff();
  }
}

void LambdaLifecycle::spawn_consumer() {
  consumer_.restart_at.reset();
  consumer_.timeout_kill_sent = false;
  seg_->header().consumer_pid.store(0, std::memory_order_relaxed);
  seg_->header().consumer_heartbeat_ns.store(0, std::memory_order_relaxed);
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) != 0) {
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  }
  control_.reset(pair[0]);
  const shm::UniqueFd theirs(pair[1]);
  std::vector<std::string> args = {"consumer", "--instance", daemon_.instance, "--lambda", cfg_.name, "--segment-fd",
                                   std::to_string(seg_->fd()), "--layout-fd", std::to_string(seg_->sealed_fd()),
                                   "--control-fd", std::to_string(theirs.get()), "--config-fd",
                                   std::to_string(consumer_config_.get())};
  std::vector<int> fds = {seg_->fd(), seg_->sealed_fd(), theirs.get(), consumer_config_.get()};
  shm::UniqueFd carried;
  if (!carried_.empty()) {
    carried = shm::make_sealed("sluice." + daemon_.instance + "." + cfg_.name + ".carried", shm::encode_carried(carried_));
    args.insert(args.end(), {"--carried-fd", std::to_string(carried.get())});
    fds.push_back(carried.get());
    carried_.clear();
  }
  consumer_.child = spawner_.spawn(ChildRole::kConsumer, exes_.sluice, args, fds);
}

void LambdaLifecycle::spawn_worker(std::uint32_t slot) {
  Proc& p = workers_[slot];
  p.restart_at.reset();
  p.timeout_kill_sent = false;
  seg_->worker_slot(slot).reader_pid.store(0, std::memory_order_relaxed);
  // An outage the dead worker saw is for the new one to find again.
  seg_->worker_stats(slot).unavailable_since_ns.store(0, std::memory_order_relaxed);
  seg_->worker_stats(slot).registry_unavailable_since_ns.store(0, std::memory_order_relaxed);
  // sluice-http-worker links libcurl: http handlers, and schema registries for any handler.
  const bool needs_curl = cfg_.handler.type == config::HandlerType::kHttp || !cfg_.schema_registry.url.empty();
  const std::string& exe = needs_curl ? exes_.http_worker : exes_.worker;
  std::vector<std::string> args{"--instance", daemon_.instance, "--lambda", cfg_.name, "--slot", std::to_string(slot),
                                "--segment-fd", std::to_string(seg_->fd()), "--layout-fd", std::to_string(seg_->sealed_fd())};
  std::vector<int> inherit{seg_->fd(), seg_->sealed_fd()};
  if (p.output) p.output->drain();  // the last one's, if a grandchild still held the pipe
  p.output = ChildOutput::open("lambda " + cfg_.name + ": worker " + std::to_string(slot));
  if (p.output) {
    args.insert(args.end(), {"--output-fd", std::to_string(p.output->child_end())});
    inherit.push_back(p.output->child_end());
  }
  p.child = spawner_.spawn(ChildRole::kWorker, exe, args, inherit);
  if (p.output) p.output->close_child_end();
}

void LambdaLifecycle::reap(Now now) {
  auto check = [&](Proc& p, bool consumer, std::uint32_t slot) {
    if (!p.child) return;
    const auto status = p.child->poll_exit();
    if (!status) return;
    const pid_t pid = p.child->pid();
    p.child.reset();  // reaped: never signalled again
    on_exit(consumer, slot, *status, pid, now);
  };
  for (std::uint32_t i = 0; i < workers_.size(); ++i) check(workers_[i], false, i);
  check(consumer_, true, 0);
}

void LambdaLifecycle::on_exit(bool consumer, std::uint32_t slot, int status, pid_t pid, Now now) {
  const std::string who = consumer ? "consumer" : "worker " + std::to_string(slot);
  // Up means registered in the segment: a worker once its handler started, a consumer
  // once it subscribed. Ending before that is a failed start, not a crash.
  const bool started = consumer ? seg_->header().consumer_pid.load(std::memory_order_acquire) == pid
                                : seg_->worker_slot(slot).reader_pid.load(std::memory_order_acquire) == pid;
  // Nobody reads this ring now: a stopping consumer need not wait for what it holds.
  if (!consumer) seg_->worker_slot(slot).reader_pid.store(0, std::memory_order_release);
  // Its last words (a crash report, a sanitizer's) before the line that says it ended.
  if (!consumer && workers_[slot].output) workers_[slot].output->drain();
  if (state_ == LambdaState::kStopping) {
    spdlog::info("lambda {}: {} stopped ({})", cfg_.name, who, process::describe_exit("process", status));
    if (consumer) {
      clear_assignment(*seg_);
      signal_workers(process::stop_request_signal());
    }
    finish_stop();
    return;
  }
  if (!active()) return;
  const std::string how = process::describe_exit(consumer ? "consumer" : "worker", status);
  spdlog::warn("lambda {}: {} ended: {}", cfg_.name, who, how);
  if (consumer) {
    on_consumer_exit();
    if (!note_restart(who + ": " + how, started)) return stop_processes(true, now);
    ++consumer_restarts_;
    consumer_.restart_at = now.at + restarts_.backoff();
    return;
  }
  Proc& w = workers_[slot];
  if (!w.reset_pending && WIFEXITED(status) && WEXITSTATUS(status) == shm::kExitCorruptRing) {
    // Its records are the consumer's to deliver again; the ring is reset once it has
    // stopped writing to it (serve_control), and only then is a worker started on it.
    w.awaiting_quarantine = true;
    if (!control_ || !shm::send_control(control_.get(), {shm::ControlKind::kCorrupt, slot})) {
      w.awaiting_quarantine = false;  // no consumer to ask: its restart resets every ring
    }
  }
  // The replacement reads this to report how a redelivered record's attempt ended.
  seg_->worker_slot(slot).last_exit_timeout_ms.store(w.timeout_kill_sent ? cfg_.handler.timeout_ms : 0,
                                                     std::memory_order_relaxed);
  seg_->worker_slot(slot).last_exit_status.store(status, std::memory_order_release);
  // The dead worker's invocation is over; its start time must not time out the next one.
  seg_->worker_slot(slot).invocation_start_ns.store(0, std::memory_order_relaxed);
  if (!note_restart(who + ": " + how, started)) return stop_processes(true, now);
  ++worker_restarts_;
  if (w.reset_pending) reset_worker_rings(slot);
  if (!w.awaiting_quarantine) w.restart_at = now.at + restarts_.backoff();
}

void LambdaLifecycle::on_consumer_exit() {
  // rest_for_one: the workers go with their consumer; records in the rings were never
  // committed, so the next consumer's group delivers them again.
  control_.reset();
  answer_resumes("its consumer ended before it answered; the next one starts every partition afresh");
  for (auto& w : workers_) {
    w.reset_pending = false;
    w.awaiting_quarantine = false;
    if (w.child) {
      w.child->kill_and_reap();
      w.child.reset();
    }
    w.restart_at.reset();
  }
  carried_.clear();
  for (std::uint32_t i = 0; i < seg_->workers(); ++i) {
    constexpr std::size_t kMaxCarried = 65536;
    for (const auto& c : shm::pending_attempts(seg_->forward(i), kMaxCarried - carried_.size())) carried_.push_back(c);
  }
  for (std::uint32_t i = 0; i < seg_->workers(); ++i) {
    shm::ring_reset(seg_->ring(i));
    shm::ring_reset(seg_->reply_ring(i));
    seg_->worker_slot(i).last_exit_status.store(0, std::memory_order_relaxed);
    seg_->worker_slot(i).last_exit_timeout_ms.store(0, std::memory_order_relaxed);
    seg_->worker_slot(i).invocation_start_ns.store(0, std::memory_order_relaxed);
  }
  clear_assignment(*seg_);
}

bool LambdaLifecycle::note_restart(const std::string& how, bool started) {
  auto failure = restarts_.ended(how, started);
  if (!failure) return true;
  failure_ = std::move(*failure);
  spdlog::error("lambda {}: {}: marking it failed; other lambdas keep running (fix it, then `sluice reload` or "
                "`sluice register {}` starts it again)",
                cfg_.name, failure_, cfg_.name);
  return false;
}

void LambdaLifecycle::observe(Now now) { restarts_.observe(ready(), now.at); }

void LambdaLifecycle::stop_processes(bool failing, Now now) {
  if (!active()) return;
  transition(LambdaState::kStopping);
  failing_ = failing;
  stop_deadline_ = now.at + std::chrono::milliseconds(daemon_.shutdown_timeout_ms);
  consumer_.restart_at.reset();
  for (auto& w : workers_) w.restart_at.reset();
  // The consumer drains and commits first; the workers are stopped once it has exited.
  if (consumer_.child) {
    consumer_.child->signal(process::stop_request_signal());
  } else {
    signal_workers(process::stop_request_signal());
  }
  finish_stop();
}

void LambdaLifecycle::finish_stop() {
  if (any_child()) return;
  transition(failing_ ? LambdaState::kFailed : LambdaState::kStopped);
  stop_deadline_.reset();
  answer_resumes("the lambda stopped before its consumer answered");
}

void LambdaLifecycle::replace(config::Lambda next, Now now) {
  after_stop_ = StartWith{std::move(next)};
  // Stopping: settle() starts it once it has stopped. Stopped or failed: at once.
  stop_processes(false, now);
}

void LambdaLifecycle::remove(Now now) {
  after_stop_ = Remove{};
  stop_processes(false, now);
}

void LambdaLifecycle::deregister(Now now) {
  after_stop_ = StayStopped{};
  stop_processes(false, now);
}

void LambdaLifecycle::shutdown(Now now) {
  if (next_config() != nullptr) after_stop_ = std::monostate{};
  stop_processes(false, now);
}

bool LambdaLifecycle::settle(bool shutting_down, Now now) {
  if (state_ != LambdaState::kStopped && state_ != LambdaState::kFailed) return true;
  if (!std::holds_alternative<std::monostate>(after_stop_)) seg_.reset();
  if (removing()) return false;
  auto* next = std::get_if<StartWith>(&after_stop_);
  if (next == nullptr || shutting_down) return true;
  spdlog::info("lambda {}: starting with its new configuration", cfg_.name);
  cfg_ = std::move(next->cfg);
  after_stop_ = std::monostate{};
  transition(LambdaState::kStarting);
  failing_ = false;
  restarts_ = RestartPolicy(daemon_.restart);
  failure_.clear();
  consumer_ = Proc{};
  workers_.clear();
  start(now);
  return true;
}

void LambdaLifecycle::check_timers(Now now) {
  if (state_ == LambdaState::kStopping && stop_deadline_ && now.at >= *stop_deadline_) {
    spdlog::warn("lambda {}: children still running after shutdown_timeout_ms ({} ms): killing them", cfg_.name,
                 daemon_.shutdown_timeout_ms);
    if (consumer_.child) consumer_.child->signal(SIGKILL);
    signal_workers(SIGKILL);
    stop_deadline_.reset();
  }
  if (!active()) return;
  if (consumer_.restart_at && now.at >= *consumer_.restart_at) {
    spdlog::info("lambda {}: restarting consumer and workers", cfg_.name);
    start_processes(now);
    return;
  }
  for (std::uint32_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].restart_at && now.at >= *workers_[i].restart_at) {
      spdlog::info("lambda {}: restarting worker {}", cfg_.name, i);
      try {
        spawn_worker(i);
      } catch (const std::exception& e) {
        // As a worker that ended before it was up: tried again after backoff.
        const std::string how = "worker " + std::to_string(i) + " cannot be started: " + e.what();
        spdlog::error("lambda {}: {}", cfg_.name, how);
        if (!note_restart(how, false)) return stop_processes(true, now);
        ++worker_restarts_;
        workers_[i].restart_at = now.at + restarts_.backoff();
      }
    }
  }
  check_hung_handlers(now);
  check_consumer_progress(now);
}

void LambdaLifecycle::check_hung_handlers(Now now) {
  // http and exec handlers time out by themselves (the request is abandoned, the child
  // killed by its worker) and report a retry; for them this kill is only a backstop for
  // a worker that hangs itself, so it waits longer. Plugins and in-process Python run in
  // the worker: killing it is the only way to end a call.
  const std::uint64_t timeout_ms = cfg_.handler.timeout_ms;
  const bool in_worker = cfg_.handler.type == config::HandlerType::kPlugin || cfg_.handler.type == config::HandlerType::kPython;
  const std::uint64_t limit_ms = in_worker ? timeout_ms : timeout_ms + std::max<std::uint64_t>(timeout_ms, 5000);
  const std::uint64_t limit = limit_ms * 1'000'000ULL;
  for (std::uint32_t i = 0; i < workers_.size(); ++i) {
    Proc& p = workers_[i];
    if (!p.child || p.timeout_kill_sent) continue;
    const std::uint64_t started = seg_->worker_slot(i).invocation_start_ns.load(std::memory_order_relaxed);
    if (started != 0 && now.mono_ns > started && now.mono_ns - started > limit) {
      // An in-process handler cannot be interrupted safely: kill its worker. The
      // attempt was counted in shm before the call, so the record cannot loop forever.
      spdlog::warn("lambda {}: worker {} handler ran past timeout_ms ({} ms): killing the worker", cfg_.name, i,
                   cfg_.handler.timeout_ms);
      p.child->signal(SIGKILL);
      p.timeout_kill_sent = true;
    }
  }
}

void LambdaLifecycle::check_consumer_progress(Now now) {
  if (!consumer_.child || consumer_.timeout_kill_sent || !ready()) return;
  // The consumer loop stamps the segment on every pass (and while it drains); a loop
  // that stopped (a deadlock, a call that never returns) would otherwise hold its
  // partitions, unhandled and uncommitted, with every signal saying "running".
  const std::uint64_t beat = seg_->header().consumer_heartbeat_ns.load(std::memory_order_relaxed);
  const std::uint64_t limit = std::uint64_t{daemon_.restart.consumer_stall_s} * 1'000'000'000ULL;
  if (beat != 0 && now.mono_ns > beat && now.mono_ns - beat > limit) {
    spdlog::error("lambda {}: its consumer made no progress for {} s (consumer_stall_s): killing it", cfg_.name,
                  (now.mono_ns - beat) / 1'000'000'000ULL);
    consumer_.child->signal(SIGKILL);
    consumer_.timeout_kill_sent = true;
  }
}

void LambdaLifecycle::serve_control(Now now) {
  while (control_) {
    const auto m = shm::receive_control(control_.get());
    if (!m) return;
    if (m->kind == shm::ControlKind::kResumed) {
      if (!resumes_.empty()) {
        resumes_.front()->set_value(json_response(200, {{"lambda", cfg_.name}, {"resumed", m->slot}}));
        resumes_.pop_front();
      }
      continue;
    }
    if (m->kind != shm::ControlKind::kQuarantined || m->slot >= workers_.size()) continue;
    Proc& w = workers_[m->slot];
    w.reset_pending = true;
    if (w.child) {
      // Reset once it is reaped (on_exit): until then it may still write to the ring.
      w.child->signal(SIGKILL);
      continue;
    }
    // Already dead (it exited saying its ring is corrupt, or crashed): reset now.
    reset_worker_rings(m->slot);
    if (w.awaiting_quarantine) {
      w.awaiting_quarantine = false;
      if (active()) w.restart_at = now.at + restarts_.backoff();
    }
  }
}

void LambdaLifecycle::reset_worker_rings(std::uint32_t slot) {
  workers_[slot].reset_pending = false;
  shm::ring_reset(seg_->ring(slot));
  shm::ring_reset(seg_->reply_ring(slot));
  spdlog::warn("lambda {}: worker {} broke its ring; the ring is reset and its records are delivered again", cfg_.name,
               slot);
  if (control_) shm::send_control(control_.get(), {shm::ControlKind::kReset, slot});
}

bool LambdaLifecycle::resume(const shm::ControlMessage& m, Reply reply) {
  if (!can_resume() || !shm::send_control(control_.get(), m)) return false;
  resumes_.push_back(std::move(reply));
  return true;
}

void LambdaLifecycle::answer_resumes(const std::string& why) {
  for (auto& reply : resumes_) reply->set_value(json_response(503, {{"error", why}}));
  resumes_.clear();
}

void LambdaLifecycle::signal_workers(int sig) {
  for (auto& w : workers_) {
    if (w.child) w.child->signal(sig);
  }
}

const config::Lambda* LambdaLifecycle::next_config() const {
  const auto* next = std::get_if<StartWith>(&after_stop_);
  return next != nullptr ? &next->cfg : nullptr;
}

bool LambdaLifecycle::ready() const {
  if (!active() || !seg_ || !consumer_.child) return false;
  if (seg_->header().consumer_pid.load(std::memory_order_acquire) != consumer_.child->pid()) return false;
  for (std::uint32_t i = 0; i < workers_.size(); ++i) {
    if (!workers_[i].child) return false;
    if (seg_->worker_slot(i).reader_pid.load(std::memory_order_relaxed) != workers_[i].child->pid()) return false;
  }
  return true;
}

LambdaState LambdaLifecycle::state() const {
  if (active()) return ready() ? LambdaState::kRunning : LambdaState::kStarting;
  return state_;
}

bool LambdaLifecycle::settled() const {
  if (next_config() != nullptr || removing()) return false;
  switch (state_) {
    case LambdaState::kStarting:  // active (see state_)
    case LambdaState::kRunning: return ready();
    case LambdaState::kStopping: return false;
    case LambdaState::kStopped:
    case LambdaState::kFailed: return true;
  }
  return true;
}

bool LambdaLifecycle::any_child() const {
  return consumer_.child || std::any_of(workers_.begin(), workers_.end(), [](const Proc& w) { return w.child != nullptr; });
}

std::optional<LambdaLifecycle::Clock::time_point> LambdaLifecycle::next_deadline() const {
  std::optional<Clock::time_point> next = stop_deadline_;
  auto consider = [&](const std::optional<Clock::time_point>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  consider(consumer_.restart_at);
  for (const auto& w : workers_) consider(w.restart_at);
  return next;
}

void LambdaLifecycle::transition(LambdaState to) {
  if (state_ == to) return;
  spdlog::debug("lambda {}: {} -> {}", cfg_.name, name_of(state_), name_of(to));
  state_ = to;
}

LambdaReport LambdaLifecycle::report(std::uint64_t now_ns) const {
  auto r = read_report(cfg_, seg_ ? &*seg_ : nullptr, state(), now_ns);
  r.worker_restarts = worker_restarts_;
  r.consumer_restarts = consumer_restarts_;
  r.failure = failure_;
  r.last_exit = restarts_.last_exit();
  r.restarts_in_a_row = restarts_.in_a_row();
  return r;
}

void LambdaLifecycle::output_pipes(std::vector<std::optional<ChildOutput>*>& out) {
  for (auto& w : workers_) {
    if (w.output && w.output->fd() >= 0) out.push_back(&w.output);
  }
}

void LambdaLifecycle::for_each_process(const std::function<void(const char*, std::uint32_t, pid_t)>& f) const {
  if (consumer_.child) f("consumer", 0, consumer_.child->pid());
  for (std::uint32_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].child) f("worker", i, workers_[i].child->pid());
  }
}

}  // namespace sluice::supervisor
