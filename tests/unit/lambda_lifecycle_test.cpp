// A lambda's lifecycle (supervisor/lambda_lifecycle.hpp) driven pass by pass, as the
// supervisor's loop drives it, with a real segment and control channel but a fake
// spawner: the test decides when each "process" is up (its pid in the segment, as the
// real ones write it) and when it ends, and moves the clock. No processes, no waiting.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "process/stop_signal.hpp"
#include "shm/control_channel.hpp"
#include "shm/ring.hpp"
#include "supervisor/lambda_lifecycle.hpp"

namespace sluice::supervisor {
namespace {

using namespace std::chrono_literals;

// What the fake knows of one started process.
struct FakeProcess {
  ChildRole role;
  std::string exe;
  std::vector<std::string> args;
  pid_t pid = 0;
  std::vector<int> signals;         // every signal sent to it, in order
  std::optional<int> exit_status;   // set by the test (or a kill): it has ended
  shm::UniqueFd control;            // a consumer's end of its control channel

  std::string arg_after(const std::string& flag) const {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == flag) return args[i + 1];
    }
    return "";
  }
  bool got(int sig) const { return std::find(signals.begin(), signals.end(), sig) != signals.end(); }
  void end(int wait_status) { exit_status = wait_status; }
};

class FakeChild final : public Child {
 public:
  explicit FakeChild(std::shared_ptr<FakeProcess> p) : p_(std::move(p)) {}
  pid_t pid() const override { return p_->pid; }
  std::optional<int> poll_exit() override { return p_->exit_status; }
  void signal(int sig) override { p_->signals.push_back(sig); }
  void kill_and_reap() override {
    p_->signals.push_back(SIGKILL);
    if (!p_->exit_status) p_->exit_status = SIGKILL;  // the wait status of a process SIGKILL ended
  }

 private:
  std::shared_ptr<FakeProcess> p_;
};

class FakeSpawner final : public Spawner {
 public:
  std::unique_ptr<Child> spawn(ChildRole role, const std::string& exe, const std::vector<std::string>& args,
                               std::vector<int> /*inherit: the fake keeps only the control channel's*/) override {
    if (refuse) throw std::runtime_error("no such file: " + exe);
    auto p = std::make_shared<FakeProcess>();
    p->role = role;
    p->exe = exe;
    p->args = args;
    p->pid = next_pid++;
    // The consumer's end of its control channel: the test plays the consumer there.
    if (role == ChildRole::kConsumer) p->control.reset(::dup(std::stoi(p->arg_after("--control-fd"))));
    started.push_back(p);
    return std::make_unique<FakeChild>(p);
  }

  std::vector<std::shared_ptr<FakeProcess>> started;
  pid_t next_pid = 100000;
  bool refuse = false;
};

constexpr int kCrashed = SIGSEGV;  // the wait status of a process SIGSEGV ended

class Lifecycle : public ::testing::Test {
 protected:
  Lifecycle() {
    daemon_.instance = "lifecycle" + std::to_string(getpid());
    daemon_.shutdown_timeout_ms = 5000;
    daemon_.restart.backoff_min_ms = 100;
    daemon_.restart.backoff_max_ms = 1000;
    daemon_.restart.max_restarts = 3;
    daemon_.restart.window_s = 60;
    daemon_.restart.start_attempts = 2;
    daemon_.restart.consumer_stall_s = 30;
  }

  config::Lambda lambda_config(std::uint32_t workers = 2) const {
    config::Lambda c;
    c.name = "orders";
    c.instance = daemon_.instance;
    c.topics = {"orders"};
    c.group_id = "lambda-orders";
    c.workers = workers;
    c.ring_bytes = 64 * 1024;
    c.handler.type = config::HandlerType::kPlugin;
    c.handler.timeout_ms = 2000;
    return c;
  }

  std::unique_ptr<LambdaLifecycle> make(config::Lambda c) {
    auto l = std::make_unique<LambdaLifecycle>(daemon_, exes_, spawner_, std::move(c));
    l->start(now_);
    return l;
  }

  // One pass of the supervisor's loop.
  void pass(LambdaLifecycle& l) {
    l.reap(now_);
    l.serve_control(now_);
    l.check_timers(now_);
    l.observe(now_);
  }
  void advance(std::chrono::milliseconds d) {
    now_.at += d;
    now_.mono_ns += static_cast<std::uint64_t>(std::chrono::nanoseconds(d).count());
  }

  // The processes started so far of one role, oldest first.
  std::vector<std::shared_ptr<FakeProcess>> started(ChildRole role) const {
    std::vector<std::shared_ptr<FakeProcess>> out;
    for (const auto& p : spawner_.started) {
      if (p->role == role) out.push_back(p);
    }
    return out;
  }
  std::shared_ptr<FakeProcess> consumer() const { return started(ChildRole::kConsumer).back(); }
  // The newest worker of a slot.
  std::shared_ptr<FakeProcess> worker(std::uint32_t slot) const {
    std::shared_ptr<FakeProcess> found;
    for (const auto& p : started(ChildRole::kWorker)) {
      if (p->arg_after("--slot") == std::to_string(slot)) found = p;
    }
    return found;
  }
  // What the real processes do once up: register under their pid in the segment.
  void consumer_up(const LambdaLifecycle& l) {
    l.segment()->header().consumer_pid.store(consumer()->pid);
    l.segment()->header().consumer_heartbeat_ns.store(now_.mono_ns);
  }
  void worker_up(const LambdaLifecycle& l, std::uint32_t slot) { l.segment()->worker_slot(slot).reader_pid.store(worker(slot)->pid); }
  void all_up(const LambdaLifecycle& l) {
    for (std::uint32_t i = 0; i < l.cfg().workers; ++i) worker_up(l, i);
    consumer_up(l);
  }

  config::Config daemon_;
  Executables exes_{"/usr/bin/sluice", "/usr/lib/sluice/sluice-worker", "/usr/lib/sluice/sluice-http-worker"};
  FakeSpawner spawner_;
  Now now_{std::chrono::steady_clock::time_point(1h), 3'600'000'000'000ULL};
};

TEST_F(Lifecycle, StartsItsWorkersBeforeItsConsumerAndRunsOnceEveryOneIsUp) {
  auto l = make(lambda_config(2));
  ASSERT_EQ(spawner_.started.size(), 3U);
  EXPECT_EQ(spawner_.started[0]->role, ChildRole::kWorker);
  EXPECT_EQ(spawner_.started[0]->exe, exes_.worker);
  EXPECT_EQ(spawner_.started[0]->arg_after("--slot"), "0");
  EXPECT_EQ(spawner_.started[1]->arg_after("--slot"), "1");
  EXPECT_EQ(spawner_.started[2]->role, ChildRole::kConsumer);
  EXPECT_EQ(spawner_.started[2]->exe, exes_.sluice);
  EXPECT_EQ(spawner_.started[2]->arg_after("--lambda"), "orders");
  EXPECT_EQ(l->state(), LambdaState::kStarting);
  EXPECT_FALSE(l->settled());

  consumer_up(*l);
  worker_up(*l, 0);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kStarting) << "worker 1 is not up yet";
  worker_up(*l, 1);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kRunning);
  EXPECT_TRUE(l->settled());
  EXPECT_FALSE(l->next_deadline().has_value());
}

TEST_F(Lifecycle, AnHttpLambdaGetsTheHttpWorker) {
  auto c = lambda_config(1);
  c.handler.type = config::HandlerType::kHttp;
  auto l = make(c);
  EXPECT_EQ(worker(0)->exe, exes_.http_worker);
}

TEST_F(Lifecycle, AWorkerThatEndsIsRestartedAloneAfterItsBackoffAndTheNextWaitsTwiceAsLong) {
  auto l = make(lambda_config(2));
  all_up(*l);
  pass(*l);
  const auto first_consumer = consumer();
  const auto first_worker = worker(1);

  first_worker->end(kCrashed);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kStarting) << "a process is down: not running";
  EXPECT_EQ(l->worker_restarts(), 1U);
  EXPECT_NE(l->report(now_.mono_ns).last_exit.find("SIGSEGV"), std::string::npos) << l->report(now_.mono_ns).last_exit;
  ASSERT_TRUE(l->next_deadline().has_value());
  EXPECT_EQ(*l->next_deadline(), now_.at + 100ms);
  advance(99ms);
  pass(*l);
  EXPECT_EQ(worker(1), first_worker) << "restarted before its backoff";
  advance(1ms);
  pass(*l);
  ASSERT_NE(worker(1), first_worker);
  EXPECT_EQ(consumer(), first_consumer) << "one_for_one: the consumer stays";
  EXPECT_TRUE(first_consumer->signals.empty());
  EXPECT_TRUE(worker(0)->signals.empty()) << "one_for_one: the other worker stays";

  worker_up(*l, 1);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kRunning);
  // Still within the restart window: the next restart waits twice as long.
  worker(1)->end(kCrashed);
  pass(*l);
  ASSERT_TRUE(l->next_deadline().has_value());
  EXPECT_EQ(*l->next_deadline(), now_.at + 200ms);
}

TEST_F(Lifecycle, AConsumerThatEndsTakesItsWorkersAndItsRingsWithIt) {
  auto l = make(lambda_config(2));
  all_up(*l);
  pass(*l);
  const auto w0 = worker(0), w1 = worker(1);
  // A record the consumer had published that no worker took yet.
  shm::RingWriter writer(l->segment()->forward(0));
  shm::RecordHeader* h = writer.try_reserve(shm::record_size(0, 6, 0));
  ASSERT_NE(h, nullptr);
  h->kind = shm::RecordKind::kRecord;
  writer.commit();
  writer.publish();
  const auto& ring = l->segment()->ring(0);
  ASSERT_GT(ring.write_pos.load(), 0U);

  consumer()->end(1 << 8);  // exit 1
  pass(*l);
  EXPECT_TRUE(w0->got(SIGKILL)) << "rest_for_one";
  EXPECT_TRUE(w1->got(SIGKILL));
  EXPECT_EQ(ring.write_pos.load(), 0U) << "the next consumer's group delivers it again: the ring starts empty";
  EXPECT_EQ(ring.read_pos.load(), 0U);
  EXPECT_EQ(l->consumer_restarts(), 1U);
  EXPECT_EQ(l->worker_restarts(), 0U);
  EXPECT_EQ(spawner_.started.size(), 3U);

  advance(100ms);
  pass(*l);
  ASSERT_EQ(spawner_.started.size(), 6U);
  EXPECT_EQ(spawner_.started[3]->role, ChildRole::kWorker) << "workers first, again";
  EXPECT_EQ(spawner_.started[4]->role, ChildRole::kWorker);
  EXPECT_EQ(spawner_.started[5]->role, ChildRole::kConsumer);
  all_up(*l);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kRunning);
}

TEST_F(Lifecycle, MoreRestartsThanMaxRestartsStopTheLambdaInOrderAndFailIt) {
  auto l = make(lambda_config(1));
  for (int crash = 1; crash <= 3; ++crash) {
    all_up(*l);
    pass(*l);
    worker(0)->end(kCrashed);
    pass(*l);
    advance(1000ms);
    pass(*l);
  }
  all_up(*l);
  pass(*l);
  ASSERT_EQ(l->state(), LambdaState::kRunning);
  worker(0)->end(kCrashed);  // the fourth within the window: more than max_restarts (3)
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kStopping);
  EXPECT_TRUE(consumer()->got(process::stop_request_signal())) << "the consumer drains and commits first";
  EXPECT_NE(l->failure().find("max_restarts"), std::string::npos) << l->failure();

  consumer()->end(0);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kFailed);
  EXPECT_TRUE(l->settled());
  EXPECT_TRUE(l->settle(false, now_)) << "a failed lambda stays, to be reported";
  const auto before = spawner_.started.size();
  advance(10s);
  pass(*l);
  EXPECT_EQ(spawner_.started.size(), before) << "a failed lambda is not restarted";
}

TEST_F(Lifecycle, ProcessesThatEndBeforeTheyAreUpFailTheLambdaAfterStartAttempts) {
  auto l = make(lambda_config(1));
  consumer_up(*l);
  worker(0)->end(1 << 8);  // never registered: a failed start
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kStarting);
  advance(100ms);
  pass(*l);
  worker(0)->end(1 << 8);  // start_attempts (2) in a row
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kStopping);
  EXPECT_NE(l->failure().find("start"), std::string::npos) << l->failure();
  consumer()->end(0);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kFailed);
}

TEST_F(Lifecycle, AStopSignalsTheConsumerThenTheWorkersAndKillsWhatOutlivesTheShutdownTimeout) {
  auto l = make(lambda_config(2));
  all_up(*l);
  pass(*l);
  l->stop(now_);
  EXPECT_EQ(l->state(), LambdaState::kStopping);
  EXPECT_TRUE(consumer()->got(process::stop_request_signal()));
  EXPECT_TRUE(worker(0)->signals.empty()) << "workers keep serving the consumer's drain";

  consumer()->end(0);
  pass(*l);
  EXPECT_TRUE(worker(0)->got(process::stop_request_signal()));
  EXPECT_TRUE(worker(1)->got(process::stop_request_signal()));
  worker(0)->end(0);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kStopping) << "worker 1 still runs";

  advance(4999ms);
  pass(*l);
  EXPECT_FALSE(worker(1)->got(SIGKILL));
  advance(1ms);
  pass(*l);
  EXPECT_TRUE(worker(1)->got(SIGKILL)) << "past shutdown_timeout_ms";
  worker(1)->end(SIGKILL);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kStopped);
  EXPECT_EQ(l->consumer_restarts() + l->worker_restarts(), 0U) << "stopping is not a crash";
}

TEST_F(Lifecycle, AHandlerPastItsTimeoutHasItsWorkerKilledOnce) {
  auto l = make(lambda_config(1));
  all_up(*l);
  pass(*l);
  l->segment()->worker_slot(0).invocation_start_ns.store(now_.mono_ns);
  advance(2000ms);  // a plugin's limit is timeout_ms itself
  pass(*l);
  EXPECT_FALSE(worker(0)->got(SIGKILL));
  advance(1ms);
  pass(*l);
  EXPECT_EQ(std::count(worker(0)->signals.begin(), worker(0)->signals.end(), SIGKILL), 1);
  pass(*l);
  EXPECT_EQ(std::count(worker(0)->signals.begin(), worker(0)->signals.end(), SIGKILL), 1) << "killed once";

  worker(0)->end(SIGKILL);
  pass(*l);
  EXPECT_EQ(l->segment()->worker_slot(0).last_exit_timeout_ms.load(), 2000U)
      << "the replacement reports the redelivered record's attempt as a timeout";
  EXPECT_EQ(l->segment()->worker_slot(0).invocation_start_ns.load(), 0U) << "the next worker's clock starts afresh";
}

TEST_F(Lifecycle, AConsumerWhoseLoopMadeNoPassForConsumerStallSIsKilled) {
  auto l = make(lambda_config(1));
  all_up(*l);
  pass(*l);
  advance(30s);
  pass(*l);
  EXPECT_FALSE(consumer()->got(SIGKILL));
  advance(1ms);
  pass(*l);
  EXPECT_TRUE(consumer()->got(SIGKILL));
}

TEST_F(Lifecycle, AWorkerThatFindsItsRingCorruptWaitsForTheConsumersQuarantineBeforeItIsReplaced) {
  auto l = make(lambda_config(2));
  all_up(*l);
  pass(*l);
  const auto broken = worker(1);
  broken->end(shm::kExitCorruptRing << 8);
  pass(*l);
  const auto asked = shm::receive_control(consumer()->control.get());
  ASSERT_TRUE(asked.has_value()) << "the consumer is told";
  EXPECT_EQ(asked->kind, shm::ControlKind::kCorrupt);
  EXPECT_EQ(asked->slot, 1U);
  advance(10s);
  pass(*l);
  EXPECT_EQ(worker(1), broken) << "no worker on the ring until the consumer stopped writing to it";

  ASSERT_TRUE(shm::send_control(consumer()->control.get(), {shm::ControlKind::kQuarantined, 1}));
  pass(*l);
  const auto reset = shm::receive_control(consumer()->control.get());
  ASSERT_TRUE(reset.has_value());
  EXPECT_EQ(reset->kind, shm::ControlKind::kReset);
  EXPECT_EQ(reset->slot, 1U);
  advance(200ms);
  pass(*l);
  EXPECT_NE(worker(1), broken) << "replaced once its ring was reset";
}

TEST_F(Lifecycle, AQuarantinedRingsLiveWorkerIsKilledAndTheRingResetOnlyOnceItIsReaped) {
  auto l = make(lambda_config(1));
  all_up(*l);
  pass(*l);
  ASSERT_TRUE(shm::send_control(consumer()->control.get(), {shm::ControlKind::kQuarantined, 0}));
  pass(*l);
  EXPECT_TRUE(worker(0)->got(SIGKILL));
  EXPECT_FALSE(shm::receive_control(consumer()->control.get()).has_value()) << "it may still write to the ring";
  worker(0)->end(SIGKILL);
  pass(*l);
  const auto reset = shm::receive_control(consumer()->control.get());
  ASSERT_TRUE(reset.has_value());
  EXPECT_EQ(reset->kind, shm::ControlKind::kReset);
}

TEST_F(Lifecycle, AReplacedLambdaStartsItsNewConfigurationOnlyOnceItHasStopped) {
  auto l = make(lambda_config(2));
  all_up(*l);
  pass(*l);
  l->replace(lambda_config(1), now_);
  ASSERT_NE(l->next_config(), nullptr);
  EXPECT_FALSE(l->settled());
  EXPECT_EQ(l->cfg().workers, 2U) << "the old one runs until it has stopped";
  consumer()->end(0);
  pass(*l);
  worker(0)->end(0);
  worker(1)->end(0);
  pass(*l);
  EXPECT_EQ(spawner_.started.size(), 3U);
  ASSERT_TRUE(l->settle(false, now_));
  EXPECT_EQ(l->cfg().workers, 1U);
  EXPECT_EQ(l->next_config(), nullptr);
  ASSERT_EQ(spawner_.started.size(), 5U) << "one worker and a consumer";
  EXPECT_EQ(l->state(), LambdaState::kStarting);
  all_up(*l);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kRunning);
}

TEST_F(Lifecycle, ARemovedLambdaIsForgottenAndADeregisteredOneStaysStopped) {
  auto removed = make(lambda_config(1));
  removed->remove(now_);
  consumer()->end(0);
  pass(*removed);
  worker(0)->end(0);
  pass(*removed);
  EXPECT_FALSE(removed->settle(false, now_));

  auto deregistered = make(lambda_config(1));
  deregistered->deregister(now_);
  consumer()->end(0);
  pass(*deregistered);
  worker(0)->end(0);
  pass(*deregistered);
  EXPECT_TRUE(deregistered->settle(false, now_));
  EXPECT_EQ(deregistered->state(), LambdaState::kStopped);
  EXPECT_TRUE(deregistered->deregistered());
}

TEST_F(Lifecycle, AShutdownDropsANewConfigurationThatWasWaitingForTheStop) {
  auto l = make(lambda_config(1));
  l->replace(lambda_config(2), now_);
  l->shutdown(now_);
  EXPECT_EQ(l->next_config(), nullptr);
  consumer()->end(0);
  pass(*l);
  worker(0)->end(0);
  pass(*l);
  EXPECT_TRUE(l->settle(true, now_));
  EXPECT_EQ(spawner_.started.size(), 2U) << "nothing started while sluice stops";
}

TEST_F(Lifecycle, AWorkerThatCannotBeStartedIsTriedAgainLikeOneThatEndedBeforeItWasUp) {
  auto l = make(lambda_config(1));
  all_up(*l);
  pass(*l);
  worker(0)->end(kCrashed);
  pass(*l);
  const auto started = spawner_.started.size();
  EXPECT_EQ(l->report(now_.mono_ns).worker_restarts, 1U);
  spawner_.refuse = true;  // fork or exec fails (out of tasks, say)
  advance(100ms);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kStarting) << "it may pass: tried again";
  ASSERT_TRUE(l->next_deadline().has_value());
  EXPECT_EQ(l->report(now_.mono_ns).worker_restarts, 2U) << "a failed restart is a restart, as the policy counts it";
  spawner_.refuse = false;
  advance(1000ms);
  pass(*l);
  ASSERT_EQ(spawner_.started.size(), started + 1);
  worker_up(*l, 0);
  pass(*l);
  EXPECT_EQ(l->state(), LambdaState::kRunning);
}

TEST_F(Lifecycle, ALambdaWhoseProcessesCannotBeStartedFailsAfterStartAttemptsAndStopsWhatDidStart) {
  spawner_.refuse = true;
  auto l = make(lambda_config(1));
  EXPECT_EQ(l->state(), LambdaState::kStarting);
  EXPECT_NE(l->report(now_.mono_ns).last_exit.find("no such file"), std::string::npos) << l->report(now_.mono_ns).last_exit;
  advance(100ms);
  pass(*l);  // the second attempt in a row: start_attempts (2)
  EXPECT_EQ(l->state(), LambdaState::kFailed) << "nothing had started: nothing to wait for";
  EXPECT_NE(l->failure().find("no such file"), std::string::npos) << l->failure();

  // A worker started, then the consumer could not be: the worker goes with it.
  spawner_.refuse = false;
  auto half = make(lambda_config(1));
  half->stop(now_);
  consumer()->end(0);
  worker(0)->end(0);
  pass(*half);
  ASSERT_TRUE(half->settle(false, now_));
  struct RefuseConsumer final : public Spawner {
    Spawner& inner;
    explicit RefuseConsumer(Spawner& s) : inner(s) {}
    std::unique_ptr<Child> spawn(ChildRole role, const std::string& exe, const std::vector<std::string>& args,
                                 std::vector<int> inherit) override {
      if (role == ChildRole::kConsumer) throw std::runtime_error("fork: Resource temporarily unavailable");
      return inner.spawn(role, exe, args, std::move(inherit));
    }
  } refuse_consumer(spawner_);
  LambdaLifecycle l2(daemon_, exes_, refuse_consumer, lambda_config(1));
  l2.start(now_);
  EXPECT_TRUE(worker(0)->got(SIGKILL)) << "the worker that did start is not left without its consumer";
  EXPECT_EQ(l2.state(), LambdaState::kStarting);
  EXPECT_EQ(l2.report(now_.mono_ns).consumer_restarts, 1U) << "its restart after backoff is counted";
}

TEST_F(Lifecycle, AResumeAskedOfAConsumerThatEndsIsAnswered) {
  auto l = make(lambda_config(1));
  all_up(*l);
  pass(*l);
  auto reply = std::make_shared<std::promise<AdminResponse>>();
  auto answer = reply->get_future();
  ASSERT_TRUE(l->resume({shm::ControlKind::kResume, 0}, reply));
  const auto asked = shm::receive_control(consumer()->control.get());
  ASSERT_TRUE(asked.has_value());
  EXPECT_EQ(asked->kind, shm::ControlKind::kResume);
  consumer()->end(kCrashed);
  pass(*l);
  ASSERT_EQ(answer.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(answer.get().status, 503);
  EXPECT_FALSE(l->can_resume()) << "no consumer to ask";
}

}  // namespace
}  // namespace sluice::supervisor
