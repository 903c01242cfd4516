// What a reload does to each lambda (supervisor/reload_plan.hpp), from configs alone.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "supervisor/reload_plan.hpp"

namespace sluice::supervisor {
namespace {

config::Lambda lambda(const std::string& name, const std::string& topic = "t") {
  config::Lambda l;
  l.name = name;
  l.topics = {topic};
  return l;
}

std::vector<std::pair<std::string, ReloadAction>> actions(const std::vector<ReloadStep>& steps) {
  std::vector<std::pair<std::string, ReloadAction>> out;
  for (const auto& s : steps) out.emplace_back(s.name, s.action);
  return out;
}

using A = ReloadAction;

TEST(ReloadPlan, NewChangedGoneAndUnchangedLambdas) {
  const config::Lambda a = lambda("a"), b = lambda("b"), gone = lambda("gone");
  const std::vector<std::pair<std::string, Running>> running = {
      {"a", {&a}}, {"b", {&b}}, {"gone", {&gone}}};
  const std::vector<config::Lambda> next = {lambda("a"), lambda("b", "other"), lambda("new")};
  const auto steps = plan_reload(running, next);
  EXPECT_EQ(actions(steps), (std::vector<std::pair<std::string, A>>{{"b", A::kRestart}, {"new", A::kAdd}, {"gone", A::kRemove}}));
  EXPECT_EQ(steps[0].cfg, &next[1]) << "a restart starts with the new config";
  EXPECT_EQ(steps[2].cfg, nullptr);
}

TEST(ReloadPlan, WhereAConfigWasWrittenIsNotAChange) {
  config::Lambda a = lambda("a");
  a.line = 3;
  config::Lambda moved = lambda("a");
  moved.line = 30;
  moved.source = "/etc/sluice/lambdas/a.toml";
  EXPECT_TRUE(same_config(a, moved));
  EXPECT_TRUE(plan_reload({{"a", {&a}}}, {moved}).empty());
}

TEST(ReloadPlan, AFailedLambdaIsRetriedEvenUnchanged) {
  const config::Lambda a = lambda("a");
  Running failed{&a};
  failed.failed = true;
  EXPECT_EQ(actions(plan_reload({{"a", failed}}, {lambda("a")})), (std::vector<std::pair<std::string, A>>{{"a", A::kRetry}}));
}

TEST(ReloadPlan, ADeregisteredLambdaTakesTheNewConfigAndStaysStopped) {
  const config::Lambda a = lambda("a");
  Running stopped{&a};
  stopped.deregistered = true;
  EXPECT_EQ(actions(plan_reload({{"a", stopped}}, {lambda("a", "other")})),
            (std::vector<std::pair<std::string, A>>{{"a", A::kKeepConfig}}));
  EXPECT_EQ(actions(plan_reload({{"a", stopped}}, {})), (std::vector<std::pair<std::string, A>>{{"a", A::kRemove}}))
      << "and goes when it is gone from the config";
}

TEST(ReloadPlan, ALambdaOnItsWayOutIsStartedAgainIfTheConfigWantsItAndNotRemovedTwice) {
  const config::Lambda a = lambda("a");
  Running leaving{&a};
  leaving.removing = true;
  EXPECT_EQ(actions(plan_reload({{"a", leaving}}, {lambda("a")})), (std::vector<std::pair<std::string, A>>{{"a", A::kRestart}}));
  EXPECT_TRUE(plan_reload({{"a", leaving}}, {}).empty());
}

TEST(ReloadPlan, APendingNewConfigIsWhatTheReloadComparesWith) {
  // A lambda stopping to start with config b (an earlier reload): reloading to b again
  // changes nothing; reloading back to a is a change.
  const config::Lambda pending = lambda("x", "b");
  EXPECT_TRUE(plan_reload({{"x", {&pending}}}, {lambda("x", "b")}).empty());
  EXPECT_EQ(actions(plan_reload({{"x", {&pending}}}, {lambda("x", "a")})),
            (std::vector<std::pair<std::string, A>>{{"x", A::kRestart}}));
}

}  // namespace
}  // namespace sluice::supervisor
