// The consumer's place in its consumer group as librdkafka's statistics name it (the
// "cgrp" object's "state" and "join_state"), carried through the segment as small codes:
// the consumer writes them, the supervisor reports them. A worker can write the segment
// too, so a code is only ever turned back into a name through name_of, which bounds it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice::shm {

// librdkafka 2.0's names; index 0 is "not reported" (no statistics yet, or a name this
// table does not have, so an unfamiliar librdkafka is reported as such, not guessed).
inline constexpr std::array<std::string_view, 8> kGroupStates = {
    "unknown", "init", "term", "query-coord", "wait-coord", "wait-broker", "wait-broker-transport", "up"};
inline constexpr std::array<std::string_view, 10> kJoinStates = {
    "unknown",         "init",         "wait-join",
    "wait-metadata",   "wait-sync",    "wait-assign-call",
    "wait-unassign-call", "wait-unassign-to-complete", "wait-incr-unassign-to-complete",
    "steady"};

template <std::size_t N>
std::uint64_t code_of(const std::array<std::string_view, N>& table, std::string_view name) {
  for (std::size_t i = 1; i < N; ++i) {
    if (table[i] == name) return i;
  }
  return 0;
}

template <std::size_t N>
std::string_view name_of(const std::array<std::string_view, N>& table, std::uint64_t code) {
  return code < N ? table[code] : table[0];
}

// A member settled in its group: it has its coordinator, and no join or rebalance is
// under way. Anything else for this long is not the seconds a join or a rebalance
// takes: the operator hears of it (a warning, and the lambda's health degraded).
inline constexpr std::uint64_t kUnsettledTooLongNs = 30'000'000'000ULL;

}  // namespace sluice::shm
