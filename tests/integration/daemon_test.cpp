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
  // A fetch restarted for a stall is a stall librdkafka caused, or a healthy partition
  // taken for stalled: either is worth a failing test. The one test that causes a stall
  // on purpose checks its own.
  if (!d.log().empty() && count_of(d.log(), "restarting its fetch at offset") != fetch_restarts_expected_) {
    ADD_FAILURE() << count_of(d.log(), "restarting its fetch at offset") << " fetch restart(s) for a stall\n" << d.log();
  }
}

std::vector<Outcome> DaemonTest::expect_delivered(const std::string& bootstrap, const Daemon& d, const std::string& lambda,
                                                  std::uint64_t produced, int partitions, std::chrono::seconds timeout,
                                                  const std::string& topic) {
  const std::string group = "lambda-" + lambda;
  const bool done =
      wait_until([&] { return committed_to_end(bootstrap, group, produced, partitions, topic); }, timeout);
  if (!done) {
    [&] { FAIL() << lambda << " did not commit to the end offsets within " << timeout.count() << " s\n" << d.log(); }();
    return {};
  }
  auto out = read_outcomes(outcomes(), lambda);
  EXPECT_EQ(check_no_loss(out, produced), "") << lambda;
  EXPECT_EQ(check_commit_safety(out, committed_offsets(bootstrap, group, topic)), "") << lambda;
  return out;
}

}  // namespace sluice::test
