#include "process/stop_signal.hpp"

namespace sluice::process {
namespace {

std::atomic<bool>* g_flag = nullptr;
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_request(int) { g_flag->store(true, std::memory_order_relaxed); }
void ignore(int) {}

void handle(int sig, void (*fn)(int)) {
  struct sigaction sa {};
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking wait returns at once to see the flag
  sigaction(sig, &sa, nullptr);
}

}  // namespace

void stop_on_request(std::atomic<bool>& flag) {
  g_flag = &flag;
  handle(stop_request_signal(), on_request);
  handle(SIGTERM, ignore);
  handle(SIGINT, ignore);
}

}  // namespace sluice::process
