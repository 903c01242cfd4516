#include "shm/carried_attempts.hpp"

#include <cstdio>
#include <sstream>

#include "shm/ring.hpp"

namespace sluice::shm {

std::vector<CarriedAttempt> pending_attempts(const RingView& ring, std::size_t limit) {
  std::vector<CarriedAttempt> out;
  RingReader reader(ring);  // a private cursor from read_pos; nothing is written
  while (out.size() < limit) {
    const RecordHeader* h = reader.peek();
    if (h == nullptr) break;
    const std::uint32_t attempts = h->attempts.load(std::memory_order_relaxed);
    const Status status = h->status.load(std::memory_order_relaxed);
    if (h->kind == RecordKind::kRecord && attempts > 0 && status == Status::kPending) {
      out.push_back({h->topic_index, h->partition, h->offset, attempts});
    }
    reader.advance();
  }
  return out;
}

std::string encode_carried(const std::vector<CarriedAttempt>& list) {
  std::string text;
  char line[96];
  for (const auto& c : list) {
    std::snprintf(line, sizeof line, "%u %d %lld %u\n", c.topic_index, c.partition, static_cast<long long>(c.offset),
                  c.attempts);
    text += line;
  }
  return text;
}

std::vector<CarriedAttempt> decode_carried(std::string_view text) {
  std::vector<CarriedAttempt> out;
  std::istringstream in{std::string(text)};
  CarriedAttempt c;
  long long offset = 0;
  while (in >> c.topic_index >> c.partition >> offset >> c.attempts) {
    c.offset = offset;
    out.push_back(c);
  }
  return out;
}

}  // namespace sluice::shm
