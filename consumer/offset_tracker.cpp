#include "consumer/offset_tracker.hpp"

#include <algorithm>

namespace sluice::consumer {

void OffsetTracker::dispatched(std::int64_t offset) {
  window_.push_back(Entry{offset, false});
  next_ = offset + 1;
  ++in_flight_;
}

bool OffsetTracker::completed(std::int64_t offset) {
  if (window_.empty()) return false;
  // In-order completion (partition ordering) always hits the front: O(1).
  auto it = window_.begin();
  if (it->offset != offset) {
    it = std::lower_bound(window_.begin(), window_.end(), offset,
                          [](const Entry& e, std::int64_t o) { return e.offset < o; });
    if (it == window_.end() || it->offset != offset || it->done) return false;
  }
  it->done = true;
  --in_flight_;
  while (!window_.empty() && window_.front().done) window_.pop_front();
  return true;
}

}  // namespace sluice::consumer
