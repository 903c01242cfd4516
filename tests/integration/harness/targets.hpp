// What the integration tests run: the sluice binary, the plugins and the shim, and whether
// they were built with AddressSanitizer. By default those of the build tree the tests were
// built in; SLUICE_IT_TARGETS names another tree's list (<build>/tests/integration-targets),
// so the sanitizer run drives its own binaries with the optimised tree's test program
// instead of compiling the whole suite a second time.
#pragma once

#include <string>

namespace sluice::test {

struct Targets {
  std::string sluice;
  std::string recorder_plugin;
  std::string log_plugin;
  std::string lose_resume;
  bool asan = false;
};

// Read once; a list that cannot be read or lacks a path aborts the run with the reason.
const Targets& targets();

}  // namespace sluice::test
