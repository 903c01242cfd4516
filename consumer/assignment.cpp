#include "consumer/assignment.hpp"

#include <stdexcept>

namespace sluice::consumer {

Assignment::Assignment(const shm::Segment& seg, std::vector<std::string> topics)
    : seg_(seg), topics_(std::move(topics)), by_partition_(topics_.size()), epochs_(seg.epoch_slots(), 0) {}

Partition* Assignment::add(const char* topic, std::int32_t partition) {
  const int ti = topic_index(topic);
  if (ti < 0) return nullptr;
  const Key k = key_of(static_cast<std::uint16_t>(ti), partition);
  auto [slot_it, fresh] = slots_.try_emplace(k, static_cast<std::uint32_t>(slots_.size()));
  if (fresh && slot_it->second >= seg_.epoch_slots()) {
    slots_.erase(slot_it);
    throw std::runtime_error("more than " + std::to_string(seg_.epoch_slots()) + " partitions assigned");
  }
  auto p = std::make_unique<Partition>();
  p->topic = topic;
  p->partition = partition;
  p->topic_index = static_cast<std::uint16_t>(ti);
  p->slot = slot_it->second;
  p->epoch = epochs_[p->slot];
  seg_.epoch(p->slot).store(p->epoch, std::memory_order_release);
  p->stats = &seg_.partition_stats(p->slot);
  p->stats->topic_index.store(static_cast<std::uint32_t>(ti), std::memory_order_relaxed);
  p->stats->partition.store(partition, std::memory_order_relaxed);
  p->stats->stopped.store(0, std::memory_order_relaxed);
  for (auto* v : {&p->stats->committed, &p->stats->position, &p->stats->low, &p->stats->high}) {
    v->store(-1, std::memory_order_relaxed);
  }
  p->stats->assigned.store(1, std::memory_order_release);  // last: the reader sees whole values
  set_index(p->topic_index, p->partition, p.get());
  Partition* raw = p.get();
  partitions_[k] = std::move(p);
  return raw;
}

void Assignment::remove(Partition& p) {
  // Records still in rings for it are now stale: workers skip them.
  new_epoch(p);
  p.stats->stopped.store(0, std::memory_order_relaxed);
  p.stats->assigned.store(0, std::memory_order_release);
  set_index(p.topic_index, p.partition, nullptr);
  partitions_.erase(key_of(p.topic_index, p.partition));
}

void Assignment::new_epoch(Partition& p) {
  p.epoch = ++epochs_[p.slot];
  seg_.epoch(p.slot).store(p.epoch, std::memory_order_release);
}

void Assignment::republish_epochs() const {
  for (const auto& [k, p] : partitions_) seg_.epoch(p->slot).store(p->epoch, std::memory_order_release);
}

int Assignment::topic_index(const char* topic) const {
  for (std::size_t i = 0; i < topics_.size(); ++i) {
    if (topics_[i] == topic) return static_cast<int>(i);
  }
  return -1;
}

Partition* Assignment::find(const char* topic, std::int32_t partition) const {
  const int ti = topic_index(topic);
  return ti < 0 ? nullptr : find(static_cast<std::uint16_t>(ti), partition);
}

Partition* Assignment::find(std::uint16_t ti, std::int32_t partition) const {
  if (ti >= by_partition_.size() || partition < 0) return nullptr;
  const auto& v = by_partition_[ti];
  return static_cast<std::size_t>(partition) < v.size() ? v[static_cast<std::size_t>(partition)] : nullptr;
}

bool Assignment::complete(std::uint16_t topic_index, std::int32_t partition, std::uint32_t epoch, std::int64_t offset,
                          std::atomic<std::uint64_t>& counter) const {
  Partition* p = find(topic_index, partition);
  if (p == nullptr || p->epoch != epoch) return false;
  p->tracker.completed(offset);
  shm::bump(counter);
  return true;
}

Partition* Assignment::find(Key key) const {
  const auto it = partitions_.find(key);
  return it == partitions_.end() ? nullptr : it->second.get();
}

void Assignment::clear() {
  partitions_.clear();
  for (auto& v : by_partition_) v.clear();
}

void Assignment::set_index(std::uint16_t ti, std::int32_t partition, Partition* p) {
  auto& v = by_partition_.at(ti);
  const auto i = static_cast<std::size_t>(partition);
  if (i >= v.size()) v.resize(i + 1, nullptr);
  v[i] = p;
}

}  // namespace sluice::consumer
