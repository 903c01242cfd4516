// Restart intensity and backoff (supervisor/restart_policy.hpp) on a clock the test
// moves: no processes, no waiting.
#include <gtest/gtest.h>

#include <vector>

#include "supervisor/restart_policy.hpp"

namespace sluice::supervisor {
namespace {

using namespace std::chrono_literals;
using Clock = RestartPolicy::Clock;

config::Restart limits() {
  config::Restart r;
  r.backoff_min_ms = 100;
  r.backoff_max_ms = 1000;
  r.max_restarts = 3;
  r.window_s = 60;
  r.start_attempts = 2;
  return r;
}

TEST(RestartPolicy, BackoffDoublesPerRestartInARowUpToItsLimit) {
  auto r = limits();
  r.max_restarts = 100;
  RestartPolicy many(r);
  EXPECT_EQ(many.backoff(), 100ms);
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 6; ++i) {
    ASSERT_FALSE(many.ended("worker killed by SIGSEGV", true).has_value());
    waits.push_back(many.backoff());
  }
  EXPECT_EQ(waits, (std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms}));
}

TEST(RestartPolicy, MoreThanMaxRestartsWithoutAWholeWindowUpFailsTheLambda) {
  RestartPolicy p(limits());
  const Clock::time_point t0{};
  for (int i = 0; i < 3; ++i) {
    p.observe(true, t0 + i * 10s);  // up, but never for a whole window
    ASSERT_FALSE(p.ended("worker exited with status 1", true).has_value()) << "restart " << i + 1;
  }
  const auto failure = p.ended("worker exited with status 1", true);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(*failure, "4 restarts without running restart_window_s (60 s) in between (max_restarts 3), the last: "
                      "worker exited with status 1");
  EXPECT_EQ(p.last_exit(), "worker exited with status 1");
}

TEST(RestartPolicy, AWholeWindowWithEveryProcessUpForgivesTheRestartsBefore) {
  RestartPolicy p(limits());
  const Clock::time_point t0{};
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(p.ended("crash", true).has_value());
  p.observe(true, t0);
  p.observe(true, t0 + 59s);
  EXPECT_EQ(p.in_a_row(), 3U) << "a window not yet run forgives nothing";
  p.observe(false, t0 + 59s);  // a process went down: the window starts again
  p.observe(true, t0 + 60s);
  p.observe(true, t0 + 119s);
  EXPECT_EQ(p.in_a_row(), 3U);
  p.observe(true, t0 + 120s);
  EXPECT_EQ(p.in_a_row(), 0U);
  EXPECT_EQ(p.backoff(), 100ms);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(p.ended("crash", true).has_value());
}

TEST(RestartPolicy, ProcessesThatEndBeforeTheyAreUpFailItAfterStartAttempts) {
  RestartPolicy p(limits());
  ASSERT_FALSE(p.ended("worker exited with status 3", false).has_value());
  const auto failure = p.ended("worker exited with status 3", false);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(*failure, "cannot start: 2 start(s) in a row ended before the process was up (start_attempts 2), the "
                      "last: worker exited with status 3");
}

TEST(RestartPolicy, AStartThatComesUpResetsTheFailedStarts) {
  auto r = limits();
  r.max_restarts = 100;
  RestartPolicy p(r);
  ASSERT_FALSE(p.ended("no import", false).has_value());
  p.observe(true, Clock::time_point{});  // this time everything came up
  EXPECT_FALSE(p.ended("no import", false).has_value()) << "one failed start after being up is not two in a row";
  ASSERT_FALSE(p.ended("crash", true).has_value());
  EXPECT_FALSE(p.ended("no import", false).has_value()) << "a crash after being up breaks the run of failed starts";
}

TEST(RestartPolicy, AReloadsLimitsApplyToWhatWasAlreadyCounted) {
  RestartPolicy p(limits());
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(p.ended("crash", true).has_value());
  auto tighter = limits();
  tighter.max_restarts = 1;
  p.reconfigure(tighter);
  EXPECT_TRUE(p.ended("crash", true).has_value());
}

}  // namespace
}  // namespace sluice::supervisor
