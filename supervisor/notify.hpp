// systemd's readiness protocol (sd_notify): READY, RELOADING, STOPPING, STATUS and the
// watchdog. Without NOTIFY_SOCKET every call does nothing, so the daemon runs the same
// outside systemd.
#pragma once

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>

namespace sluice::supervisor {

class Notifier {
 public:
  Notifier();

  void ready();
  // RELOADING=1 with MONOTONIC_USEC, which systemd 252 wants beside it.
  void reloading();
  void stopping();
  // Sent only when it differs from the last one.
  void status(const std::string& line);
  // Pings the watchdog when half its interval has passed; call from the main loop.
  void tick();
  // How long the main loop may sleep before tick() is due; nullopt without a watchdog.
  std::optional<std::chrono::milliseconds> until_tick() const;

 private:
  void send(const std::string& state);

  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
  std::chrono::steady_clock::time_point last_ping_{};
  std::string last_status_;
};

// Names of the variables by which systemd talks to the main process only; children
// must not inherit them (NotifyAccess=main, and a handler must not ping the watchdog).
inline constexpr std::initializer_list<const char*> kSystemdOnlyEnv = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};

}  // namespace sluice::supervisor
