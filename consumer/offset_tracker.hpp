// Per-partition bookkeeping for the commit rule: the committable offset is the first
// dispatched offset whose record has not completed (a contiguous watermark), so a
// commit never passes a record whose handler has not finished, however out of order
// completions arrive (they do, with `key` and `none` ordering).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>

namespace sluice::consumer {

class OffsetTracker {
 public:
  // Offsets are dispatched in increasing order (gaps allowed: compaction, control records).
  void dispatched(std::int64_t offset);
  // Marks an in-flight offset completed. False if it is not in flight.
  bool completed(std::int64_t offset);
  // The offset to commit: the first not-yet-completed one, or one past the last
  // dispatched when everything completed; -1 before anything was dispatched.
  std::int64_t committable() const { return window_.empty() ? next_ : window_.front().offset; }
  std::size_t in_flight() const { return in_flight_; }
  // The records before `offset` that were never dispatched will never be: they are gone
  // from the log. Once the window empties, `offset` is committable.
  void skip_to(std::int64_t offset) { next_ = std::max(next_, offset); }

 private:
  struct Entry {
    std::int64_t offset;
    bool done;
  };
  std::deque<Entry> window_;  // in dispatch order; the front is never done
  std::int64_t next_ = -1;
  std::size_t in_flight_ = 0;
};

}  // namespace sluice::consumer
