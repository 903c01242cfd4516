// Tells when librdkafka has stopped fetching a partition the consumer wants fetched.
// librdkafka can lose a partition's fetch without a word: a fetcher start dropped as
// outdated when a pause or resume races it, a pause that outlives the assignment it was
// made in. The partition then stays assigned, its records wait at the broker, and the
// only thing that shows it is the lag. The consumer feeds this one sample per partition
// per second and restarts the fetch, with a warning, when it says so.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace sluice::consumer {

struct FetchSample {
  bool wanted = false;          // neither paused nor stopped by the consumer
  std::int64_t expected = -1;   // the next offset the consumer expects to be given; -1 unknown
  bool fetching = false;        // librdkafka's fetch state for it is one that fetches
  std::int64_t fetch_offset = -1;  // librdkafka's next fetch offset; -1 unknown
  // The leader's end of the log (its high watermark, or its last stable offset when only
  // committed records are read), with when it was asked.
  std::optional<std::int64_t> leader_end;
  std::chrono::steady_clock::time_point asked_at{};
};

class FetchStall {
 public:
  using Clock = std::chrono::steady_clock;

  // Long enough that a partition on a slow or loaded machine is not taken for stalled
  // (a fetch answers within fetch.wait.max.ms, 500 ms by default), short enough that
  // its records wait seconds, not minutes.
  static constexpr Clock::duration kAfter = std::chrono::seconds(10);

  explicit FetchStall(Clock::duration after = kAfter) : after_(after) {}

  // True when, for `after` now, the consumer wanted the partition and was given nothing,
  // librdkafka has fetched nothing past what the consumer was given, and the leader,
  // asked after that began, has records past it. A fetch that happens gives the
  // consumer a record (or, past records it never gives, such as a transaction's markers,
  // moves librdkafka ahead), so only a fetch that is not happening is reported.
  bool stalled(const FetchSample& s, Clock::time_point now);
  // Whether the leader should be asked about this partition: it has not moved for a
  // while (half of `after`), so an answer may soon be needed.
  bool suspect(Clock::time_point now) const { return since_ != Clock::time_point{} && now - since_ >= after_ / 2; }
  // Starts watching afresh (after a restart of the fetch).
  void reset() { since_ = {}; }

 private:
  Clock::duration after_;
  std::int64_t expected_ = -1;
  Clock::time_point since_{};  // when `expected` last moved (or the partition became wanted)
};

}  // namespace sluice::consumer
