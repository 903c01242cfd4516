// What the supervisor knows about one lambda, read from its shared-memory counters
// without asking the children; rendered as JSON (GET /lambdas, `sluice status`) and as
// Prometheus text (GET /metrics).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "shm/layout.hpp"
#include "shm/segment.hpp"

namespace sluice::supervisor {

struct PartitionReport {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t committed = -1;  // -1: not known yet
  std::int64_t position = -1;
  std::int64_t low = -1;
  std::int64_t high = -1;
  // high watermark minus the committed offset (or, before a first commit, the fetch
  // position or the log start); -1 while the high watermark is unknown.
  std::int64_t lag() const;
};

struct HistogramReport {
  std::array<std::uint64_t, shm::kLatencyBuckets> buckets{};  // not cumulative
  std::uint64_t sum_ns = 0;
  void add(const shm::Histogram& h);
};

struct LambdaReport {
  std::string name;
  std::string state;  // running, starting, stopping, stopped, failed
  std::string group_id;
  std::vector<std::string> topics;
  std::string handler;  // its type
  std::uint32_t workers = 0;
  std::uint64_t worker_restarts = 0;
  std::uint64_t consumer_restarts = 0;
  bool has_counters = false;  // false once a stopped lambda's segment is gone
  std::uint64_t consumed = 0, dispatched = 0, handled = 0, failed = 0, retried = 0, dead_lettered = 0, skipped = 0,
                stale = 0, produced = 0, commits = 0, commits_failed = 0, rebalances = 0, pauses = 0,
                offset_resets = 0, offsets_skipped = 0, in_flight = 0, backlog = 0, invocations = 0;
  std::vector<double> ring_fill;  // per worker, 0..1
  HistogramReport handler_latency;
  HistogramReport queue_wait;
  HistogramReport commit_latency;
  std::vector<PartitionReport> partitions;  // assigned now
  std::int64_t lag() const;                 // sum over partitions with a known lag
};

// seg may be null (a stopped lambda whose segment was released).
LambdaReport read_report(const config::Lambda& cfg, const shm::Segment* seg, std::string state);

nlohmann::json to_json(const LambdaReport& r);

// Prometheus text exposition format 0.0.4 for every lambda.
std::string to_prometheus(const std::vector<LambdaReport>& reports);

}  // namespace sluice::supervisor
