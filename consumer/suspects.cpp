#include "consumer/suspects.hpp"

#include <algorithm>

namespace sluice::consumer {

void Suspects::carry(const std::vector<shm::CarriedAttempt>& list, std::size_t topics) {
  for (const auto& c : list) {
    // The list comes from the supervisor, which read it from worker-writable rings.
    if (c.topic_index >= topics || c.attempts == 0) continue;
    Entry& e = entries_[Assignment::key_of(static_cast<std::uint16_t>(c.topic_index), c.partition)][c.offset];
    e.attempts = std::max(e.attempts, std::min(c.attempts, max_attempts_));
    e.reason = "its attempts ran out while the consumer restarted (the last one ended without an outcome)";
  }
}

void Suspects::charge(Key partition, std::int64_t offset, std::uint32_t used, std::string reason) {
  Entry& e = entries_[partition][offset];
  e.attempts = std::max(e.attempts, std::min(used, max_attempts_));
  e.reason = std::move(reason);
}

void Suspects::fail(Key partition, std::int64_t offset, std::string reason) {
  Entry& e = entries_[partition][offset];
  e.attempts = std::max<std::uint32_t>(e.attempts, 1);
  e.fail = true;
  e.reason = std::move(reason);
}

const Suspects::Entry* Suspects::find_entry(Key partition, std::int64_t offset) const {
  const auto it = entries_.find(partition);
  if (it == entries_.end()) return nullptr;
  const auto e = it->second.find(offset);
  return e == it->second.end() ? nullptr : &e->second;
}

void Suspects::erase(Key partition, std::int64_t offset) {
  const auto it = entries_.find(partition);
  if (it == entries_.end()) return;
  it->second.erase(offset);
  if (it->second.empty()) entries_.erase(it);
}

}  // namespace sluice::consumer
