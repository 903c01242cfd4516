// What the consumer wrote into one forward ring, in ring order (Consumer::Sent): a
// growable circular buffer, because a record is appended and removed per record on the
// hot path. (std::deque allocated and freed a block every 8 entries; boost's
// circular_buffer cost ~100 instructions per append here, measured with callgrind.)
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::consumer {

template <typename T>
class SentLog {
 public:
  explicit SentLog(std::size_t capacity = 1024) : items_(std::bit_ceil(capacity)), mask_(items_.size() - 1) {}

  bool empty() const { return head_ == tail_; }
  std::size_t size() const { return static_cast<std::size_t>(tail_ - head_); }
  const T& front() const { return items_[head_ & mask_]; }
  const T& operator[](std::size_t i) const { return items_[(head_ + i) & mask_]; }
  void pop_front() { ++head_; }
  void clear() { head_ = tail_ = 0; }
  void push_back(const T& item) {
    if (size() == items_.size()) grow();
    items_[tail_++ & mask_] = item;
  }
  // Index of the first entry whose key is not less than `key` (entries are in
  // increasing key order), or size().
  template <typename Key, typename KeyOf>
  std::size_t lower_bound(const Key& key, KeyOf key_of) const {
    std::size_t lo = 0, hi = size();
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (key_of((*this)[mid]) < key) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

 private:
  void grow() {
    std::vector<T> bigger(items_.size() * 2);
    for (std::size_t i = 0; i < size(); ++i) bigger[i] = (*this)[i];
    tail_ = size();
    head_ = 0;
    items_.swap(bigger);
    mask_ = items_.size() - 1;
  }

  std::vector<T> items_;
  std::size_t mask_;
  std::uint64_t head_ = 0;  // positions only grow; an index is a position & mask_
  std::uint64_t tail_ = 0;
};

}  // namespace sluice::consumer
