#include "consumer/worker_rings.hpp"

#include <algorithm>

namespace sluice::consumer {
namespace {

// FNV-1a: stable across processes and restarts, unlike std::hash.
std::uint64_t hash_bytes(const void* data, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(data);
  std::uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

}  // namespace

WorkerRings::WorkerRings(const shm::Segment& seg) : seg_(seg) {
  for (std::uint32_t w = 0; w < seg.workers(); ++w) {
    writers_.emplace_back(seg.forward(w));
    replies_.emplace_back(seg.reply(w));
  }
  sent_.assign(writers_.size(), SentLog<Sent>(1024));
  quarantined_.assign(writers_.size(), false);
  solo_.assign(writers_.size(), false);
  touched_.assign(writers_.size(), false);
}

std::uint32_t WorkerRings::choose(config::Ordering ordering, std::int32_t partition, std::uint16_t topic_index,
                                  const void* key, std::size_t key_len) {
  const auto n = size();
  if (n == 1) return 0;
  switch (ordering) {
    case config::Ordering::kKey:
      if (key != nullptr) return static_cast<std::uint32_t>(hash_bytes(key, key_len) % n);
      [[fallthrough]];
    case config::Ordering::kPartition:
      // Consecutive partitions land on consecutive workers: an even spread.
      return (static_cast<std::uint32_t>(partition) + topic_index * 7919U) % n;
    case config::Ordering::kNone: {
      std::uint32_t best = next_;
      std::uint64_t best_load = ~0ULL;
      for (std::uint32_t i = 0; i < n; ++i) {
        const std::uint32_t r = (next_ + i) % n;
        if (quarantined_[r]) continue;
        // The worker's read position is only a hint here (it can write anything there).
        const shm::RingWriter& w = writers_[r];
        const std::uint64_t load = w.write_cursor() - std::min(w.read_pos(), w.write_cursor());
        if (load < best_load) {
          best = r;
          best_load = load;
        }
      }
      next_ = (best + 1) % n;
      return best;
    }
  }
  return 0;
}

bool WorkerRings::any_quarantined() const {
  return std::find(quarantined_.begin(), quarantined_.end(), true) != quarantined_.end();
}

void WorkerRings::commit(std::uint32_t r, Sent s, bool alone) {
  shm::RingWriter& w = writers_[r];
  w.commit();
  s.start = w.reserved_at();
  s.end = w.write_cursor();
  sent_[r].push_back(s);
  if (alone) solo_[r] = true;
  touched_[r] = true;
}

void WorkerRings::publish_all(bool wake) {
  for (std::uint32_t r = 0; r < size(); ++r) {
    if (quarantined_[r]) continue;
    if (touched_[r] || wake) {
      writers_[r].publish(wake);
      touched_[r] = false;
    }
  }
}

bool WorkerRings::waiting(std::uint32_t r, std::uint64_t seq) const {
  // Replies are published before the record they are about is released, so that record
  // is still in the list, which is in seq order.
  const auto& sent = sent_[r];
  const std::size_t at = sent.lower_bound(seq, [](const Sent& s) { return s.seq; });
  return at != sent.size() && sent[at].seq == seq;
}

std::optional<WorkerRings::Taken> WorkerRings::quarantine(std::uint32_t r) {
  if (quarantined_[r]) return std::nullopt;
  quarantined_[r] = true;
  Taken taken;
  taken.alone = solo_[r] && sent_[r].size() == 1;
  solo_[r] = false;
  for (std::size_t i = 0; i < sent_[r].size(); ++i) taken.records.push_back(sent_[r][i]);
  sent_[r].clear();
  return taken;
}

void WorkerRings::reset(std::uint32_t r) {
  writers_[r] = shm::RingWriter(seg_.forward(r));
  replies_[r] = shm::RingReader(seg_.reply(r));
  touched_[r] = false;
  quarantined_[r] = false;
}

bool WorkerRings::held_only_by_stalled_workers(bool stopping, std::size_t in_flight) const {
  // Waiting out drain_timeout_ms for such workers only delays the stop (or the
  // rebalance); their records are delivered again. (A failing lambda's consumer used to
  // wait twice drain_timeout_ms for its crash-looping worker, then be killed.)
  std::size_t in_rings = 0;
  for (std::uint32_t r = 0; r < size(); ++r) {
    if (in_ring(r) == 0) continue;
    const bool unavailable = seg_.worker_stats(r).unavailable_since_ns.load(std::memory_order_relaxed) != 0;
    // The supervisor zeroes reader_pid when it reaps the worker.
    const bool ended = stopping && seg_.worker_slot(r).reader_pid.load(std::memory_order_acquire) == 0;
    if (!unavailable && !ended) return false;
    in_rings += in_ring(r);
  }
  return in_rings > 0 && in_rings >= in_flight;
}

}  // namespace sluice::consumer
