#include "consumer/leader_watermarks.hpp"

#include <algorithm>

namespace sluice::consumer {

LeaderWatermarks::LeaderWatermarks(rd_kafka_t* rk, std::chrono::milliseconds interval)
    : rk_(rk), interval_(interval), thread_([this](std::stop_token stop) { run(stop); }) {}

LeaderWatermarks::~LeaderWatermarks() {
  thread_.request_stop();
  wake_.notify_all();
}  // the jthread joins; a query in progress ends by its own timeout (interval_)

void LeaderWatermarks::watch(std::vector<Partition> partitions) {
  std::sort(partitions.begin(), partitions.end());
  std::lock_guard lock(mu_);
  if (partitions == watched_) return;
  for (auto it = answers_.begin(); it != answers_.end();) {
    it = std::binary_search(partitions.begin(), partitions.end(), it->first) ? std::next(it) : answers_.erase(it);
  }
  const bool first = watched_.empty() && !partitions.empty();
  watched_ = std::move(partitions);
  if (first) wake_.notify_all();  // ask at once about a partition just paused
}

std::optional<LeaderWatermarks::Answer> LeaderWatermarks::latest(const std::string& topic, std::int32_t partition) const {
  std::lock_guard lock(mu_);
  const auto it = answers_.find({topic, partition});
  if (it == answers_.end()) return std::nullopt;
  return it->second;
}

void LeaderWatermarks::run(std::stop_token stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    wake_.wait(lock, stop, [&] { return !watched_.empty(); });
    if (stop.stop_requested()) break;
    std::vector<kafka::Watermarks> ask;
    for (const auto& [topic, partition] : watched_) ask.push_back({topic, partition, -1, -1});
    const auto asked_at = std::chrono::steady_clock::now();
    lock.unlock();
    const auto err = kafka::query_watermarks(rk_, ask, static_cast<int>(interval_.count()));
    lock.lock();
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (const auto& w : ask) {
        const Partition key{w.topic, w.partition};
        if (std::binary_search(watched_.begin(), watched_.end(), key)) answers_[key] = {w, asked_at};
      }
    }  // else: the leader is unreachable; the broker-state signals say so, and the next round asks again
    wake_.wait_for(lock, stop, interval_, [] { return false; });
  }
}

}  // namespace sluice::consumer
