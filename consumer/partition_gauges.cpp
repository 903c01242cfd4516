#include "consumer/partition_gauges.hpp"

#include <spdlog/spdlog.h>

namespace sluice::consumer {
namespace {

// How often the leaders of partitions not being fetched are asked for their watermarks.
constexpr auto kLeaderWatermarksEvery = std::chrono::milliseconds(1000);

}  // namespace

PartitionGauges::PartitionGauges(rd_kafka_t* rk, const config::Lambda& lambda, shm::Stats& stats, Assignment& assignment,
                                 RestartFetch restart)
    : rk_(rk),
      lambda_(lambda),
      stats_(stats),
      assignment_(assignment),
      restart_(std::move(restart)),
      committed_(std::make_unique<CommittedReader>(rk, lambda.group_id)),
      leaders_(std::make_unique<LeaderWatermarks>(rk, kLeaderWatermarksEvery)) {}

void PartitionGauges::statistics(std::string_view json) {
  if (want_fetch_states_) {
    fetch_states_ = read_fetch_states(json);
  } else {
    fetch_states_.clear();
  }
}

void PartitionGauges::assigned(const std::vector<std::pair<std::string, std::int32_t>>& partitions) {
  if (!committed_->outstanding()) committed_->request(partitions);
}

void PartitionGauges::read_committed() {
  for (const auto& a : committed_->take()) {
    Partition* p = assignment_.find(a.topic.c_str(), a.partition);
    // Our own acknowledged commits are newer than any answer to a request made before them.
    if (p == nullptr || p->committed >= 0) continue;
    p->committed_known = true;
    p->stats->committed.store(a.offset, std::memory_order_relaxed);
    // Where librdkafka starts a partition it was assigned: kept here, since the
    // segment's copy is one a worker can write.
    if (p->expected < 0 && a.offset >= 0) p->expected = a.offset;
  }
  if (committed_->outstanding()) return;
  std::vector<std::pair<std::string, std::int32_t>> unknown;
  for (const auto& [k, p] : assignment_) {
    if (p->committed < 0 && !p->committed_known) unknown.emplace_back(p->topic, p->partition);
  }
  committed_->request(unknown);
}

void PartitionGauges::publish(bool stopping) {
  std::vector<LeaderWatermarks::Partition> unfetched;
  std::vector<std::pair<Partition*, FetchSample>> stalled;
  bool suspects = false;
  const auto now = std::chrono::steady_clock::now();
  for (auto& [k, p] : assignment_) {
    PartitionFacts f;
    f.wanted = !p->paused && !p->stopped && !stopping;
    f.suspect = f.wanted && p->stall.suspect(now);
    f.expected = p->expected;
    if (rd_kafka_get_watermark_offsets(rk_, p->topic.c_str(), p->partition, &f.cached_low, &f.cached_high) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      f.cached_low = f.cached_high = -1;
    }
    if (const auto s = fetch_states_.find({p->topic, p->partition}); s != fetch_states_.end()) f.fetch = &s->second;
    if (f.asks_leader()) f.leader = leaders_->latest(p->topic, p->partition);
    const PartitionReading r = read_partition(f);
    suspects = suspects || f.suspect;
    if (r.ask_leader) unfetched.emplace_back(p->topic, p->partition);
    // Until the fetch states are read, fetch_offset is unknown and never "ahead".
    if (p->stall.stalled(r.sample, now) && want_fetch_states_) stalled.emplace_back(p.get(), r.sample);
    if (r.high < 0) continue;  // nothing known yet
    p->stats->low.store(r.low, std::memory_order_relaxed);
    p->stats->high.store(r.high, std::memory_order_relaxed);
  }
  want_fetch_states_ = suspects;
  leaders_->watch(std::move(unfetched));
  for (auto& [p, s] : stalled) restart_stalled(*p, s);
  read_committed();
}

void PartitionGauges::restart_stalled(Partition& p, const FetchSample& s) {
  const auto f = fetch_states_.find({p.topic, p.partition});
  spdlog::warn("lambda {}: {}[{}]: its leader has records to offset {} but nothing past offset {} has been fetched for {} s "
               "(librdkafka: fetch {} at offset {}); restarting its fetch at offset {}",
               lambda_.name, p.topic, p.partition, *s.leader_end - 1, s.expected - 1,
               std::chrono::duration_cast<std::chrono::seconds>(FetchStall::kAfter).count(),
               f != fetch_states_.end() ? f->second.state : "unknown", s.fetch_offset, s.expected);
  shm::bump(stats_.fetch_restarts);
  restart_(p, s.expected);
}

}  // namespace sluice::consumer
