// Records that come back from Kafka with a history (docs/architecture.md, "Suspects"):
// those a previous consumer's workers had tried (carried over a consumer restart), those
// a worker held when it broke its ring (suspects: delivered again one at a time, so the
// one that breaks its worker is found), and those whose invocation's outbound records
// were refused (they fail at once). Dispatch asks here before a record goes into a ring;
// an entry is used up when its record is dispatched again. Pure bookkeeping, keyed by
// partition and offset: what a verdict means for the record is the consumer's.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "consumer/assignment.hpp"
#include "shm/carried_attempts.hpp"

namespace sluice::consumer {

class Suspects {
 public:
  using Key = Assignment::Key;
  struct Entry {
    std::uint32_t attempts = 0;  // charged so far; the record starts its next delivery there
    std::string reason;          // why the charged attempts ended
    bool fail = false;           // takes the failure path at once
  };

  explicit Suspects(std::uint32_t max_attempts) : max_attempts_(max_attempts) {}

  // The previous consumer's workers' attempts (of lambdas with `topics` topics), capped
  // at max_attempts: a record whose attempts ran out takes the failure path.
  void carry(const std::vector<shm::CarriedAttempt>& list, std::size_t topics);
  // The record was in a ring whose worker broke it: it goes alone into its ring next time.
  void suspect(Key partition, std::int64_t offset) { entries_[partition][offset]; }
  // ... and it is certain the record was in its handler then: `used` attempts count.
  void charge(Key partition, std::int64_t offset, std::uint32_t used, std::string reason);
  // What its handler asked for cannot be done: it fails when it comes back.
  void fail(Key partition, std::int64_t offset, std::string reason);

  // The entry of a record being dispatched, or nullptr. Inline: asked once per record,
  // and almost always of an empty map.
  const Entry* find(Key partition, std::int64_t offset) const {
    return entries_.empty() ? nullptr : find_entry(partition, offset);
  }
  // Whether that entry sends the record down the failure path instead of to a worker.
  bool exhausted(const Entry& e) const { return e.fail || e.attempts >= max_attempts_; }
  // The record was dispatched (or failed): its entry is used up.
  void erase(Key partition, std::int64_t offset);
  // Every entry of a partition (the operator resumed it: its records start afresh).
  void forget(Key partition) { entries_.erase(partition); }
  bool empty() const { return entries_.empty(); }

 private:
  const Entry* find_entry(Key partition, std::int64_t offset) const;

  const std::uint32_t max_attempts_;
  std::unordered_map<Key, std::map<std::int64_t, Entry>> entries_;
};

}  // namespace sluice::consumer
