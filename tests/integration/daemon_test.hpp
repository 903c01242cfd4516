// The fixture every daemon test shares: a temp dir, a unique instance, and the checks
// made when a daemon is stopped.
#pragma once

#include <gtest/gtest.h>

#include <string>

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
  std::size_t fetch_restarts_expected_ = 0;
};

}  // namespace sluice::test
