#include "consumer/fetch_stall.hpp"

namespace sluice::consumer {

bool FetchStall::stalled(const FetchSample& s, Clock::time_point now) {
  // Only the consumer's offset counts as moving: librdkafka's is read only while the
  // partition is suspect, and a fetcher ahead of the consumer is looked at below.
  if (!s.wanted || s.expected != expected_ || since_ == Clock::time_point{}) {
    expected_ = s.expected;
    since_ = s.wanted ? now : Clock::time_point{};
    return false;
  }
  if (now - since_ < after_ || s.expected < 0 || !s.leader_end || s.asked_at < since_) return false;
  // librdkafka ahead of the consumer has records for it in its queue: not a stall here.
  const bool ahead = s.fetching && s.fetch_offset > s.expected;
  return !ahead && *s.leader_end > s.expected;
}

}  // namespace sluice::consumer
