#include "supervisor/report.hpp"

#include <algorithm>

#include "shm/group_states.hpp"

namespace sluice::supervisor {

std::int64_t PartitionReport::lag() const {
  if (high < 0) return -1;
  const std::int64_t from = committed >= 0 ? committed : committed == shm::kNothingCommitted ? low : -1;
  return from < 0 ? -1 : std::max<std::int64_t>(high - from, 0);
}

void HistogramReport::add(const shm::Histogram& h) {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += h.buckets[i].load(std::memory_order_relaxed);
  sum_ns += h.sum_ns.load(std::memory_order_relaxed);
}

std::int64_t LambdaReport::lag() const {
  std::int64_t total = 0;
  for (const auto& p : partitions) {
    const std::int64_t l = p.lag();
    if (l < 0) return -1;  // a sum without a partition would understate it
    total += l;
  }
  return total;
}

LambdaReport read_report(const config::Lambda& cfg, const shm::Segment* seg, LambdaState state, std::uint64_t now_ns) {
  LambdaReport r;
  r.name = cfg.name;
  r.state = state;
  r.group_id = cfg.group_id;
  r.topics = cfg.topics;
  r.handler = config::to_string(cfg.handler.type);
  r.workers = cfg.workers;
  if (seg == nullptr) return r;
  r.has_counters = true;
  const shm::Stats& s = seg->stats();
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  r.consumed = get(s.consumed);
  r.dispatched = get(s.dispatched);
  r.handled = get(s.handled_ok);
  r.failed = get(s.failed);
  r.dead_lettered = get(s.dead_lettered);
  r.skipped = get(s.skipped);
  r.stale = get(s.stale);
  r.produced = get(s.produced);
  r.filtered = get(s.filtered);
  r.commits = get(s.commits);
  r.commits_failed = get(s.commits_failed);
  r.assigns = get(s.assigns);
  r.revokes = get(s.revokes);
  r.pauses = get(s.paused);
  r.offset_resets = get(s.offset_resets);
  r.offsets_skipped = get(s.offsets_skipped);
  r.fetch_restarts = get(s.fetch_restarts);
  r.in_flight = get(s.in_flight);
  r.backlog = get(s.backlog);
  r.stopped_partitions = get(s.stopped_partitions);
  r.last_commit_ms = get(s.last_commit_ms);
  r.brokers_reported = get(s.brokers_seen_ns) != 0;
  r.brokers_up = get(s.brokers_up);
  r.brokers_known = get(s.brokers_known);
  if (const std::uint64_t down = get(s.brokers_down_ns); down != 0 && now_ns > down) {
    r.brokers_down_ms = std::max<std::uint64_t>((now_ns - down) / 1'000'000, 1);
  } else if (down != 0) {
    r.brokers_down_ms = 1;
  }
  r.group_state = shm::name_of(shm::kGroupStates, get(s.group_state));
  r.group_join_state = shm::name_of(shm::kJoinStates, get(s.group_join_state));
  if (const std::uint64_t since = get(s.group_unsettled_ns); since != 0) {
    r.group_unsettled_ms = std::max<std::uint64_t>(now_ns > since ? (now_ns - since) / 1'000'000 : 0, 1);
  }
  r.commit_latency.add(s.commit_latency);
  for (std::uint32_t w = 0; w < seg->workers(); ++w) {
    const shm::WorkerStats& ws = seg->worker_stats(w);
    r.invocations += get(ws.invocations);
    r.retried += get(ws.retried);
    r.split_calls += get(ws.split_calls);
    r.unavailable += get(ws.unavailable);
    if (const std::uint64_t since = get(ws.unavailable_since_ns); since != 0) {
      ++r.workers_unavailable;
      r.unavailable_ms = std::max<std::uint64_t>(r.unavailable_ms, now_ns > since ? (now_ns - since) / 1'000'000 : 0);
    }
    r.registry_unavailable += get(ws.registry_unavailable);
    if (const std::uint64_t since = get(ws.registry_unavailable_since_ns); since != 0) {
      ++r.workers_registry_unavailable;
      r.registry_unavailable_ms =
          std::max<std::uint64_t>(r.registry_unavailable_ms, now_ns > since ? (now_ns - since) / 1'000'000 : 0);
    }
    r.handler_latency.add(ws.handler_latency);
    r.queue_wait.add(ws.queue_wait);
    const shm::RingView ring = seg->forward(w);
    // Two loads, not one snapshot: the fill is a gauge, a moment's skew is harmless. A
    // worker can write read_pos, so the ratio is clamped rather than trusted.
    const std::uint64_t read = ring.control->read_pos.load(std::memory_order_relaxed);
    const std::uint64_t write = ring.control->write_pos.load(std::memory_order_relaxed);
    const double fill = write > read ? static_cast<double>(write - read) / static_cast<double>(ring.capacity) : 0.0;
    r.ring_fill.push_back(std::min(fill, 1.0));
  }
  for (std::uint32_t slot = 0; slot < seg->epoch_slots(); ++slot) {
    const shm::PartitionStats& ps = seg->partition_stats(slot);
    if (ps.assigned.load(std::memory_order_acquire) == 0) continue;
    // The consumer writes these, but a worker can too: a topic that is not the lambda's
    // marks an entry nobody assigned, and it is left out rather than reported.
    const std::uint32_t ti = ps.topic_index.load(std::memory_order_relaxed);
    if (ti >= cfg.topics.size()) continue;
    PartitionReport p;
    p.topic = cfg.topics[ti];
    p.partition = ps.partition.load(std::memory_order_relaxed);
    p.committed = ps.committed.load(std::memory_order_relaxed);
    p.position = ps.position.load(std::memory_order_relaxed);
    p.low = ps.low.load(std::memory_order_relaxed);
    p.high = ps.high.load(std::memory_order_relaxed);
    p.stopped = ps.stopped.load(std::memory_order_relaxed) != 0;
    r.partitions.push_back(std::move(p));
  }
  std::sort(r.partitions.begin(), r.partitions.end(),
            [](const auto& a, const auto& b) { return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition); });
  return r;
}

Health health_of(const LambdaReport& r) {
  Health h;
  if (r.state == LambdaState::kFailed) {
    h.status = "failed";
    h.reasons.push_back(r.failure.empty() ? "failed" : r.failure);
    return h;
  }
  if (r.state == LambdaState::kStopped || r.state == LambdaState::kStopping) {
    h.status = "stopped";
    return h;
  }
  if (r.state == LambdaState::kStarting) {
    if (r.restarts_in_a_row == 0) {
      h.status = "starting";
      return h;
    }
    h.reasons.push_back("restarting: " + std::to_string(r.restarts_in_a_row) + " restart(s) in a row, the last after " +
                        r.last_exit);
  }
  if (r.brokers_down_ms > 0) {
    h.reasons.push_back("no broker connection for " + std::to_string(r.brokers_down_ms / 1000) + " s (" +
                        std::to_string(r.brokers_known) + " broker(s) known, none up)");
  }
  if (r.group_unsettled_ms * 1'000'000 >= shm::kUnsettledTooLongNs) {
    h.reasons.push_back("not settled in consumer group " + r.group_id + " for " + std::to_string(r.group_unsettled_ms / 1000) +
                        " s (group state " + r.group_state + ", join state " + r.group_join_state +
                        "); partitions it has not been assigned are not consumed");
  }
  if (r.workers_unavailable > 0) {
    h.reasons.push_back("handler unavailable for " + std::to_string(r.unavailable_ms / 1000) + " s (" +
                        std::to_string(r.workers_unavailable) + " of " + std::to_string(r.workers) +
                        " worker(s) retrying without counting attempts; their partitions wait)");
  }
  if (r.workers_registry_unavailable > 0) {
    h.reasons.push_back("schema registry unavailable for " + std::to_string(r.registry_unavailable_ms / 1000) + " s (" +
                        std::to_string(r.workers_registry_unavailable) + " of " + std::to_string(r.workers) +
                        " worker(s) waiting to decode records; their partitions wait)");
  }
  if (r.stopped_partitions > 0) {
    h.reasons.push_back(std::to_string(r.stopped_partitions) +
                        " partition(s) stopped at a record that failed (on_failure = \"stop\"); nothing past it is "
                        "handled or committed until the lambda is registered again");
  }
  h.status = h.reasons.empty() ? "ok" : "degraded";
  return h;
}

std::string overall_health(const std::vector<Health>& lambdas) {
  auto any = [&](const char* s) {
    return std::any_of(lambdas.begin(), lambdas.end(), [&](const Health& h) { return h.status == s; });
  };
  if (any("failed")) return "failed";
  if (any("degraded")) return "degraded";
  if (any("starting")) return "starting";
  if (!any("ok")) return "idle";
  return "ok";
}

nlohmann::json to_json(const LambdaReport& r) {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& p : r.partitions) {
    auto known = [](std::int64_t v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
    parts.push_back({{"topic", p.topic},
                     {"partition", p.partition},
                     {"committed", known(p.committed)},
                     {"position", known(p.position)},
                     {"high_watermark", known(p.high)},
                     {"lag", known(p.lag())},
                     {"stopped", p.stopped}});
  }
  nlohmann::json j = {{"name", r.name},
                      {"state", name_of(r.state)},
                      {"group_id", r.group_id},
                      {"topics", r.topics},
                      {"handler", r.handler},
                      {"workers", r.workers},
                      {"restarts", {{"worker", r.worker_restarts}, {"consumer", r.consumer_restarts}}},
                      {"partitions", parts},
                      {"lag", r.lag() < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.lag())}};
  const Health h = health_of(r);
  j["health"] = {{"status", h.status}, {"reasons", h.reasons}};
  if (!r.failure.empty() && r.state == LambdaState::kFailed) j["failure"] = r.failure;
  if (r.has_counters && r.brokers_reported) j["brokers"] = {{"up", r.brokers_up}, {"known", r.brokers_known}};
  if (r.has_counters) {
    j["group"] = {{"state", r.group_state}, {"join_state", r.group_join_state}, {"unsettled_ms", r.group_unsettled_ms}};
  }
  if (r.has_counters) {
    j["unavailable"] = {{"calls", r.unavailable}, {"workers", r.workers_unavailable}};
    j["schema_registry_unavailable"] = {{"rounds", r.registry_unavailable}, {"workers", r.workers_registry_unavailable}};
    j["records"] = {{"consumed", r.consumed},   {"handled", r.handled},   {"failed", r.failed},
                    {"retried", r.retried},     {"dead_lettered", r.dead_lettered}, {"skipped", r.skipped},
                    {"filtered", r.filtered},   {"produced", r.produced},   {"in_flight", r.in_flight}, {"backlog", r.backlog}};
    j["commits"] = {{"ok", r.commits}, {"failed", r.commits_failed}};
    if (r.last_commit_ms != 0) j["commits"]["last_ms"] = r.last_commit_ms;
    j["rebalances"] = {{"assigned", r.assigns}, {"revoked", r.revokes}};
  }
  return j;
}

}  // namespace sluice::supervisor
