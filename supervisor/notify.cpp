#include "supervisor/notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "shm/clock.hpp"

namespace sluice::supervisor {

Notifier::Notifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  // Checks WATCHDOG_PID against our pid, so a stray variable does not enable it.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ = std::chrono::microseconds(usec);
    spdlog::info("systemd watchdog enabled: pinging every {} ms", usec / 2000);
  }
}

void Notifier::send(const std::string& state) {
  if (!enabled_) return;
  if (const int rc = sd_notify(0, state.c_str()); rc < 0) {
    spdlog::warn("sd_notify({}) failed: {}", state.substr(0, state.find('\n')), rc);
  }
}

void Notifier::ready() { send("READY=1"); }

void Notifier::reloading() {
  const std::uint64_t usec = shm::monotonic_ns() / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void Notifier::stopping() { send("STOPPING=1"); }

void Notifier::status(const std::string& line) {
  if (line == last_status_) return;
  last_status_ = line;
  send("STATUS=" + line);
}

void Notifier::tick() {
  if (!watchdog_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ping_ < *watchdog_ / 2) return;
  last_ping_ = now;
  send("WATCHDOG=1");
}

std::optional<std::chrono::milliseconds> Notifier::until_tick() const {
  if (!watchdog_) return std::nullopt;
  const auto due = last_ping_ + *watchdog_ / 2 - std::chrono::steady_clock::now();
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(due));
}

}  // namespace sluice::supervisor
