#include "shm/stop_signal.hpp"

#include <signal.h>
#include <unistd.h>

namespace sluice::shm {
namespace {

std::atomic<bool>* g_flag = nullptr;
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_signal(int, siginfo_t* info, void*) {
  // getppid() is async-signal-safe. A signal from the kernel itself (si_pid 0) is not a
  // stop request either.
  if (info != nullptr && info->si_pid == getppid()) g_flag->store(true, std::memory_order_relaxed);
}

}  // namespace

void stop_on_parent_signal(std::atomic<bool>& flag) {
  g_flag = &flag;
  struct sigaction sa {};
  sa.sa_sigaction = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: a blocking wait returns at once to see the flag
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

}  // namespace sluice::shm
