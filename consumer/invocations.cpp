#include "consumer/invocations.hpp"

#include <utility>

namespace sluice::consumer {

std::optional<Invocations::Settled> Invocations::one_less(std::uint64_t leader) {
  auto it = open_.find(leader);
  if (--it->second.unacked > 0) return std::nullopt;
  Settled s{std::move(it->second.members), std::move(it->second.refused)};
  open_.erase(it);
  return s;
}

std::optional<Invocations::Settled> Invocations::acked(std::uint64_t leader) {
  auto it = open_.find(leader);
  if (it == open_.end() || it->second.unacked == 0) return std::nullopt;
  return one_less(leader);
}

std::optional<Invocations::Settled> Invocations::refused(std::uint64_t leader, std::string why) {
  auto it = open_.find(leader);
  if (it == open_.end() || it->second.unacked == 0) return std::nullopt;
  it->second.refused = std::move(why);
  return one_less(leader);
}

std::optional<Invocations::Settled> Invocations::reaped_without_records(std::uint64_t leader) {
  auto it = open_.find(leader);
  if (it == open_.end() || it->second.unacked != 0) return std::nullopt;
  Settled s{std::move(it->second.members), {}};
  open_.erase(it);
  return s;
}

}  // namespace sluice::consumer
