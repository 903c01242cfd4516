#include <gtest/gtest.h>

#include <cstdint>

#include "consumer/sent_log.hpp"

namespace sluice::consumer {
namespace {

// Appends and removals wrap around the buffer and grow it while entries are held,
// keeping their order; lower_bound finds by key over the held entries.
TEST(SentLog, KeepsOrderAcrossWrapsAndGrowth) {
  SentLog<std::uint64_t> log(4);
  std::uint64_t next = 0, first = 0;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < round % 7 + 1; ++i) log.push_back(next++);
    for (int i = 0; i < round % 5 && !log.empty(); ++i) {
      ASSERT_EQ(log.front(), first++);
      log.pop_front();
    }
    ASSERT_EQ(log.size(), next - first);
    for (std::size_t i = 0; i < log.size(); ++i) ASSERT_EQ(log[i], first + i);
  }
  const auto key = [](std::uint64_t v) { return v * 2; };
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.lower_bound(2 * first, key), 0U);
  EXPECT_EQ(log.lower_bound(2 * (first + 3) - 1, key), 3U);
  EXPECT_EQ(log.lower_bound(2 * next, key), log.size());
  log.clear();
  EXPECT_TRUE(log.empty());
}

}  // namespace
}  // namespace sluice::consumer
