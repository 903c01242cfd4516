#include "daemon_test.hpp"

#include <signal.h>
#include <sys/wait.h>

namespace sluice::test {

void DaemonTest::expect_clean_stop(Daemon& d, const std::string& inst) {
  using namespace std::chrono_literals;
  d.signal(SIGTERM);
  const auto st = d.wait_exit(60s);
  ASSERT_TRUE(st.has_value()) << "daemon did not stop within 60 s after SIGTERM\n" << d.log();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "wait status " << *st << "\n" << d.log();
  EXPECT_EQ(check_hygiene(inst), "");
  EXPECT_EQ(sanitizer_report(d.log()), "");
}

}  // namespace sluice::test
