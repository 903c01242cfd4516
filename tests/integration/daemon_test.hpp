// The fixture every daemon test shares: a temp dir, a unique instance, and the checks
// made when a daemon is stopped.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "harness.hpp"

namespace sluice::test {

class DaemonTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::string instance = unique_instance();
  fs::path outcomes() const { return dir.path() / "outcomes"; }

  // SIGTERM, then: exit 0 within 60 s, I5 for `inst`, no sanitizer report, and as many
  // fetches restarted for a stall (consumer/fetch_stall.hpp) as the test expects.
  void expect_clean_stop(Daemon& d, const std::string& inst);
  void expect_clean_stop(Daemon& d) { expect_clean_stop(d, instance); }

  // The end of the skeleton every delivery scenario shares (broker, produce, daemon,
  // something goes wrong, then this): waits up to `timeout` for group lambda-<lambda> to
  // commit all `produced` records of `topic` (round-robin over `partitions`), then checks
  // the oracle: I1 every record handled ok at least once, I2 nothing committed past a
  // record not handled. Returns the outcomes for the scenario's own checks. A commit that
  // never comes is a fatal failure: call it inside ASSERT_NO_FATAL_FAILURE.
  std::vector<Outcome> expect_delivered(const std::string& bootstrap, const Daemon& d, const std::string& lambda,
                                        std::uint64_t produced, int partitions, std::chrono::seconds timeout,
                                        const std::string& topic = "events");
  std::size_t fetch_restarts_expected_ = 0;
};

}  // namespace sluice::test
