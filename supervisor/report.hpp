// What the supervisor knows about one lambda, read from its shared-memory counters
// without asking the children; rendered as JSON (GET /lambdas, `sluice status`) and as
// Prometheus text (GET /metrics).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "shm/layout.hpp"
#include "shm/segment.hpp"
#include "supervisor/lambda_state.hpp"
#include "supervisor/process_stats.hpp"

namespace sluice::supervisor {

struct PartitionReport {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t committed = -1;  // -1: not known yet; shm::kNothingCommitted: none
  std::int64_t position = -1;
  std::int64_t low = -1;
  std::int64_t high = -1;
  bool stopped = false;
  // As `sluice offsets show` computes it: the high watermark minus the group's committed
  // offset as the broker has it (the log start when nothing is committed); -1 while
  // either is unknown. Never the fetch position: records fetched are not records handled.
  std::int64_t lag() const;
};

struct HistogramReport {
  std::array<std::uint64_t, shm::kLatencyBuckets> buckets{};  // not cumulative
  std::uint64_t sum_ns = 0;
  void add(const shm::Histogram& h);
};

struct LambdaReport {
  std::string name;
  LambdaState state = LambdaState::kStarting;
  std::string group_id;
  std::vector<std::string> topics;
  std::string handler;  // its type
  std::uint32_t workers = 0;
  std::uint64_t worker_restarts = 0;
  std::uint64_t consumer_restarts = 0;
  bool has_counters = false;  // false once a stopped lambda's segment is gone
  std::uint64_t consumed = 0, dispatched = 0, handled = 0, failed = 0, retried = 0, dead_lettered = 0, skipped = 0,
                stale = 0, produced = 0, commits = 0, commits_failed = 0, assigns = 0, revokes = 0, pauses = 0,
                offset_resets = 0, offsets_skipped = 0, fetch_restarts = 0, in_flight = 0, backlog = 0, invocations = 0,
                filtered = 0, split_calls = 0;
  std::vector<double> ring_fill;  // per worker, 0..1
  HistogramReport handler_latency;
  HistogramReport queue_wait;
  HistogramReport commit_latency;
  std::vector<PartitionReport> partitions;  // assigned now
  std::int64_t lag() const;                 // sum over partitions; -1 if any is unknown
  // From the supervisor: why it failed, how its last process ended, restarts since it
  // last ran a whole restart window.
  std::string failure;
  std::string last_exit;
  std::uint32_t restarts_in_a_row = 0;
  // From the consumer: held partitions, broker connections (librdkafka's statistics).
  std::uint64_t stopped_partitions = 0;
  bool brokers_reported = false;  // a statistics report (or an error) has come
  std::uint64_t brokers_up = 0, brokers_known = 0;
  std::uint64_t brokers_down_ms = 0;  // how long none has been up; 0 while one is
  std::uint64_t last_commit_ms = 0;   // wall clock, ms since the epoch; 0: none by this consumer
  // Its consumer group (librdkafka's names; "unknown" before the first report).
  std::string group_state = "unknown", group_join_state = "unknown";
  std::uint64_t group_unsettled_ms = 0;  // how long not settled; 0 while it is
  // From the workers: calls whose handler was unavailable (not counted as attempts), and
  // how long the longest current outage has lasted (0: none).
  std::uint64_t unavailable = 0;
  std::uint64_t unavailable_ms = 0;
  std::uint32_t workers_unavailable = 0;
  // The same for records waiting on the schema registry.
  std::uint64_t registry_unavailable = 0;
  std::uint64_t registry_unavailable_ms = 0;
  std::uint32_t workers_registry_unavailable = 0;
  // The lambda's processes now: "consumer", or "worker" with its slot.
  struct Process {
    std::string role;
    std::uint32_t slot = 0;
    ProcessStats stats;
  };
  std::vector<Process> processes;
};

// A lambda's health, one definition for /healthz, /lambdas, `sluice status` and
// /metrics: "ok" (running, connected, nothing held), "starting", "degraded" (running
// or restarting, with reasons: no broker connection, partitions stopped, a crash loop
// before its limit), "failed" (given up: max_restarts or start_attempts; reason),
// "stopped" (stopping, deregistered or stopped: not counted).
struct Health {
  std::string status;
  std::vector<std::string> reasons;
};
Health health_of(const LambdaReport& r);

// The daemon's: "failed" if any lambda failed, else "degraded" if any is, else
// "starting" if any is, else "idle" when none runs, else "ok".
std::string overall_health(const std::vector<Health>& lambdas);

// seg may be null (a stopped lambda whose segment was released). now_ns: CLOCK_MONOTONIC.
LambdaReport read_report(const config::Lambda& cfg, const shm::Segment* seg, LambdaState state, std::uint64_t now_ns);

nlohmann::json to_json(const LambdaReport& r);

// Prometheus text exposition format 0.0.4 for every lambda, and for the supervisor
// itself (its process_* samples, when it could read them).
std::string to_prometheus(const std::vector<LambdaReport>& reports, const std::optional<ProcessStats>& supervisor);

}  // namespace sluice::supervisor
