// W3C trace context: which traceparent values are passed on (shm/trace_context.hpp), the
// context a record carries and what outbound records inherit (worker/trace_headers.hpp).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "shm/trace_context.hpp"
#include "worker/trace_headers.hpp"

namespace sluice {
namespace {

const std::string kContext = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContext, OnlyWellFormedTraceparentsAreValid) {
  EXPECT_TRUE(shm::valid_traceparent(kContext));
  EXPECT_TRUE(shm::valid_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future"))
      << "a later version may add fields";
  EXPECT_FALSE(shm::valid_traceparent(kContext + "-x")) << "version 00 has exactly four fields";
  EXPECT_FALSE(shm::valid_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(shm::valid_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")) << "lower-case hex";
  EXPECT_FALSE(shm::valid_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(shm::valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  EXPECT_FALSE(shm::valid_traceparent("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"));
  EXPECT_FALSE(shm::valid_traceparent(""));
  EXPECT_TRUE(shm::valid_tracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
  EXPECT_FALSE(shm::valid_tracestate("a=b\r\nX-Injected: 1")) << "it goes into an HTTP header";
  EXPECT_FALSE(shm::valid_tracestate(std::string(513, 'a')));
}

TEST(TraceContext, StartedContextsAreValidAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string t = shm::start_traceparent();
    ASSERT_TRUE(shm::valid_traceparent(t)) << t;
    EXPECT_TRUE(t.ends_with("-01")) << "sampled: the operator asked for traces";
    seen.insert(t.substr(3, 32));
  }
  EXPECT_EQ(seen.size(), 1000U);
}

struct Headers {
  std::vector<std::pair<std::string, std::string>> list;
  std::vector<sluice_header> views;
  sluice_record record() {
    views.clear();
    for (const auto& [n, v] : list) views.push_back({n.data(), n.size(), v.data(), v.size()});
    sluice_record r{};
    r.headers = views.data();
    r.header_count = views.size();
    return r;
  }
};

TEST(TraceContext, ARecordsContextIsItsLastValidTraceparent) {
  Headers h{{{"tracestate", "a=1"}, {"traceparent", kContext}}, {}};
  auto ctx = worker::trace_context_of(h.record());
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->traceparent, kContext);
  EXPECT_EQ(ctx->tracestate, "a=1");

  const std::string started = shm::start_traceparent();
  Headers replaced{{{"traceparent", "bad"}, {"tracestate", "a=1"}, {"traceparent", started}}, {}};
  ctx = worker::trace_context_of(replaced.record());
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->traceparent, started) << "trace = true's context, appended after the invalid one";
  EXPECT_EQ(ctx->tracestate, "") << "the tracestate belonged to the unreadable traceparent";

  Headers none{{{"traceparent", "bad"}, {"Traceparent", kContext}}, {}};
  EXPECT_FALSE(worker::trace_context_of(none.record())) << "Kafka header names are case-sensitive";
}

TEST(TraceContext, OutboundRecordsInheritItUnlessTheHandlerSetItsOwn) {
  const worker::TraceContext ctx{kContext, "a=1"};
  worker::OutboundRecord plain;
  plain.headers.emplace_back("x", "y");
  worker::inherit_trace_context(plain, ctx);
  const std::vector<std::pair<std::string, std::optional<std::string>>> want{
      {"x", "y"}, {"traceparent", kContext}, {"tracestate", "a=1"}};
  EXPECT_EQ(plain.headers, want);

  worker::OutboundRecord own;
  own.headers.emplace_back("traceparent", "00-11111111111111111111111111111111-2222222222222222-01");
  worker::inherit_trace_context(own, ctx);
  EXPECT_EQ(own.headers.size(), 1U) << "the handler's own child context wins";
}

}  // namespace
}  // namespace sluice
