// Prometheus text format: every sample of one metric name together, after its HELP and
// TYPE lines, so the lambdas are iterated inside each metric rather than the other way.
#include <cstdio>
#include <functional>
#include <sstream>

#include "supervisor/report.hpp"

namespace sluice::supervisor {
namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string seconds(std::uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(ns) / 1e9);
  return buf;
}

class Writer {
 public:
  explicit Writer(const std::vector<LambdaReport>& reports) : reports_(reports) {}

  // `always`: the supervisor's own counters exist without a segment.
  void counter(const char* name, const char* help, std::uint64_t LambdaReport::*field, bool always = false) {
    head(name, help, "counter");
    for (const auto& r : reports_) {
      if (always || r.has_counters) out_ << name << "{lambda=\"" << escape(r.name) << "\"} " << r.*field << "\n";
    }
  }
  void gauge(const char* name, const char* help, const std::function<void(const LambdaReport&, const std::string&)>& each) {
    head(name, help, "gauge");
    for (const auto& r : reports_) each(r, "lambda=\"" + escape(r.name) + "\"");
  }
  void histogram(const char* name, const char* help, HistogramReport LambdaReport::*field) {
    head(name, help, "histogram");
    for (const auto& r : reports_) {
      if (!r.has_counters) continue;
      const HistogramReport& h = r.*field;
      const std::string l = "lambda=\"" + escape(r.name) + "\"";
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < h.buckets.size(); ++i) {
        cumulative += h.buckets[i];
        const std::string le = i < std::size(shm::kLatencyBoundsUs) ? seconds(shm::kLatencyBoundsUs[i] * 1000) : "+Inf";
        out_ << name << "_bucket{" << l << ",le=\"" << le << "\"} " << cumulative << "\n";
      }
      out_ << name << "_sum{" << l << "} " << seconds(h.sum_ns) << "\n";
      out_ << name << "_count{" << l << "} " << cumulative << "\n";
    }
  }
  std::ostringstream& out() { return out_; }

 private:
  void head(const char* name, const char* help, const char* type) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  const std::vector<LambdaReport>& reports_;
  std::ostringstream out_;
};

}  // namespace

std::string to_prometheus(const std::vector<LambdaReport>& reports, const std::optional<ProcessStats>& supervisor) {
  Writer w(reports);
  w.out() << "# HELP sluice_build_info The running sluice's version\n# TYPE sluice_build_info gauge\n"
          << "sluice_build_info{version=\"" << SLUICE_VERSION << "\"} 1\n";
  w.gauge("sluice_lambda_up", "1 while the lambda's consumer and every worker are running", [&](const auto& r, const auto& l) {
    w.out() << "sluice_lambda_up{" << l << "} " << (r.state == LambdaState::kRunning ? 1 : 0) << "\n";
  });
  w.gauge("sluice_lambda_state", "The lambda's state: 1 for the current one", [&](const auto& r, const auto& l) {
    for (const LambdaState s : kLambdaStates) {
      w.out() << "sluice_lambda_state{" << l << ",state=\"" << name_of(s) << "\"} " << (r.state == s ? 1 : 0) << "\n";
    }
  });
  w.gauge("sluice_lambda_health", "The lambda's health (as /healthz says it): 1 for the current one",
          [&](const auto& r, const auto& l) {
            const std::string now = health_of(r).status;
            for (const char* s : {"ok", "starting", "degraded", "failed", "stopped"}) {
              w.out() << "sluice_lambda_health{" << l << ",health=\"" << s << "\"} " << (now == s ? 1 : 0) << "\n";
            }
          });
  w.gauge("sluice_lambda_restarts_in_a_row", "Restarts since the lambda last ran a whole restart window",
          [&](const auto& r, const auto& l) { w.out() << "sluice_lambda_restarts_in_a_row{" << l << "} " << r.restarts_in_a_row << "\n"; });
  w.gauge("sluice_broker_connected",
          "1 while the lambda's consumer has a broker connection up (librdkafka's statistics), 0 while it has none",
          [&](const auto& r, const auto& l) {
            if (r.has_counters && r.brokers_reported) {
              w.out() << "sluice_broker_connected{" << l << "} " << (r.brokers_down_ms == 0 ? 1 : 0) << "\n";
            }
          });
  w.gauge("sluice_brokers_up", "Broker connections of the lambda's consumer that are up", [&](const auto& r, const auto& l) {
    if (r.has_counters && r.brokers_reported) w.out() << "sluice_brokers_up{" << l << "} " << r.brokers_up << "\n";
  });
  w.gauge("sluice_group_settled",
          "1 while the lambda's consumer is settled in its consumer group (coordinator found, no join or rebalance under "
          "way), 0 while it is not",
          [&](const auto& r, const auto& l) {
            if (r.has_counters && r.group_state != "unknown") {
              w.out() << "sluice_group_settled{" << l << "} " << (r.group_unsettled_ms == 0 ? 1 : 0) << "\n";
            }
          });
  w.gauge("sluice_partitions_stopped", "Assigned partitions held at a record that failed (on_failure = \"stop\")",
          [&](const auto& r, const auto& l) {
            if (r.has_counters) w.out() << "sluice_partitions_stopped{" << l << "} " << r.stopped_partitions << "\n";
          });
  w.gauge("sluice_last_commit_timestamp_seconds", "When the broker last acknowledged a commit of the lambda's consumer",
          [&](const auto& r, const auto& l) {
            if (r.has_counters && r.last_commit_ms != 0) {
              w.out() << "sluice_last_commit_timestamp_seconds{" << l << "} " << seconds(r.last_commit_ms * 1'000'000) << "\n";
            }
          });
  w.counter("sluice_records_consumed_total", "Records fetched from Kafka", &LambdaReport::consumed);
  w.counter("sluice_records_handled_total", "Records whose handler succeeded", &LambdaReport::handled);
  w.counter("sluice_records_failed_total", "Records that took the failure path", &LambdaReport::failed);
  w.counter("sluice_retry_attempts_total", "Handler attempts that ended in a retry (a record retried twice counts 2)",
            &LambdaReport::retried);
  w.counter("sluice_records_dead_lettered_total", "Records whose dead letter the broker acknowledged",
            &LambdaReport::dead_lettered);
  w.counter("sluice_records_skipped_total", "Records skipped by on_failure = \"skip\"", &LambdaReport::skipped);
  w.counter("sluice_records_filtered_total", "Records no [[lambda.filter]] admitted: committed without a handler call",
            &LambdaReport::filtered);
  w.counter("sluice_records_revoked_total", "Records not handled because their partition was revoked",
            &LambdaReport::stale);
  w.counter("sluice_records_produced_total", "Outbound records the broker acknowledged", &LambdaReport::produced);
  w.counter("sluice_handler_invocations_total", "Handler calls (a batch is one call)", &LambdaReport::invocations);
  w.counter("sluice_handler_split_calls_total",
            "Handler calls made by splitting a batch that failed as a whole (bisect_batch_on_error); counted in invocations too",
            &LambdaReport::split_calls);
  w.counter("sluice_handler_unavailable_total",
            "Handler calls that found the handler unavailable (refused, 429, 502-504): retried without counting an attempt",
            &LambdaReport::unavailable);
  w.gauge("sluice_workers_unavailable", "Workers whose handler is unavailable now", [&](const auto& r, const auto& l) {
    if (r.has_counters) w.out() << "sluice_workers_unavailable{" << l << "} " << r.workers_unavailable << "\n";
  });
  w.counter("sluice_schema_registry_unavailable_total",
            "Rounds in which records waited because the schema registry could not be reached (not counted as attempts)",
            &LambdaReport::registry_unavailable);
  w.gauge("sluice_workers_schema_registry_unavailable", "Workers whose records wait for the schema registry now",
          [&](const auto& r, const auto& l) {
            if (r.has_counters) {
              w.out() << "sluice_workers_schema_registry_unavailable{" << l << "} " << r.workers_registry_unavailable << "\n";
            }
          });
  w.gauge("sluice_records_in_flight", "Records in the workers' rings, not yet completed", [&](const auto& r, const auto& l) {
    if (r.has_counters) w.out() << "sluice_records_in_flight{" << l << "} " << r.in_flight << "\n";
  });
  w.gauge("sluice_records_backlog", "Records fetched and waiting to enter a worker's ring (ring full, or their partition at its limit)", [&](const auto& r, const auto& l) {
    if (r.has_counters) w.out() << "sluice_records_backlog{" << l << "} " << r.backlog << "\n";
  });
  w.gauge("sluice_ring_fill_ratio", "Fill of each worker's ring, 0 to 1", [&](const auto& r, const auto& l) {
    for (std::size_t i = 0; i < r.ring_fill.size(); ++i) {
      w.out() << "sluice_ring_fill_ratio{" << l << ",worker=\"" << i << "\"} " << r.ring_fill[i] << "\n";
    }
  });
  w.histogram("sluice_handler_duration_seconds", "Duration of handler calls", &LambdaReport::handler_latency);
  w.histogram("sluice_record_wait_seconds",
              "From the consumer queuing a record for a worker to the start of its first handler call",
              &LambdaReport::queue_wait);
  w.histogram("sluice_commit_latency_seconds", "From storing an offset to the broker acknowledging its commit",
              &LambdaReport::commit_latency);
  w.counter("sluice_commits_total",
            "Partition offsets the broker acknowledged as committed (a commit of 3 partitions counts 3)",
            &LambdaReport::commits);
  w.counter("sluice_commits_failed_total", "Partition offsets whose commit failed (each partition counts)",
            &LambdaReport::commits_failed);
  w.out() << "# HELP sluice_rebalances_total Rebalance callbacks of the lambda's consumer, by what they did\n"
          << "# TYPE sluice_rebalances_total counter\n";
  for (const auto& r : reports) {
    if (!r.has_counters) continue;
    w.out() << "sluice_rebalances_total{lambda=\"" << escape(r.name) << "\",kind=\"assign\"} " << r.assigns << "\n"
            << "sluice_rebalances_total{lambda=\"" << escape(r.name) << "\",kind=\"revoke\"} " << r.revokes << "\n";
  }
  w.counter("sluice_partition_pauses_total", "Partitions paused because rings were full", &LambdaReport::pauses);
  w.counter("sluice_offset_resets_total", "Positions found outside the log", &LambdaReport::offset_resets);
  w.counter("sluice_offsets_skipped_total", "Records never handled because of offset resets",
            &LambdaReport::offsets_skipped);
  w.counter("sluice_fetch_restarts_total",
            "Partitions whose records waited at the leader while librdkafka fetched nothing, restarted",
            &LambdaReport::fetch_restarts);
  w.counter("sluice_worker_restarts_total", "Worker processes restarted", &LambdaReport::worker_restarts, true);
  w.counter("sluice_consumer_restarts_total", "Consumer processes restarted (with their workers)",
            &LambdaReport::consumer_restarts, true);
  auto per_partition = [&](const char* name, const char* help, auto value) {
    w.gauge(name, help, [&](const LambdaReport& r, const std::string& l) {
      for (const auto& p : r.partitions) {
        const std::int64_t v = value(p);
        if (v < 0) continue;  // unknown yet: no sample rather than a wrong one
        w.out() << name << "{" << l << ",topic=\"" << escape(p.topic) << "\",partition=\"" << p.partition << "\"} " << v
                << "\n";
      }
    });
  };
  per_partition("sluice_partition_committed_offset", "Last committed offset of each assigned partition",
                [](const PartitionReport& p) { return p.committed; });
  per_partition("sluice_partition_high_watermark", "High watermark of each assigned partition",
                [](const PartitionReport& p) { return p.high; });
  per_partition("sluice_partition_lag", "High watermark minus committed offset", [](const PartitionReport& p) { return p.lag(); });
  w.gauge("sluice_lambda_lag", "Sum of the lag of the lambda's assigned partitions (no sample while one is unknown)",
          [&](const auto& r, const auto& l) {
            if (r.lag() >= 0) w.out() << "sluice_lambda_lag{" << l << "} " << r.lag() << "\n";
          });
  const auto process = [&](const char* name, const char* help, const char* type, auto value) {
    w.out() << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    if (supervisor) w.out() << name << "{process=\"supervisor\"} " << value(*supervisor) << "\n";
    for (const auto& r : reports) {
      for (const auto& p : r.processes) {
        w.out() << name << "{lambda=\"" << escape(r.name) << "\",process=\"" << p.role << "\"";
        if (p.role == "worker") w.out() << ",worker=\"" << p.slot << "\"";
        w.out() << "} " << value(p.stats) << "\n";
      }
    }
  };
  process("process_cpu_seconds_total", "User and system CPU time", "counter", [](const ProcessStats& s) { return s.cpu_seconds; });
  process("process_resident_memory_bytes", "Resident memory", "gauge", [](const ProcessStats& s) { return s.rss_bytes; });
  process("process_open_fds", "Open file descriptors", "gauge", [](const ProcessStats& s) { return s.open_fds; });
  process("process_start_time_seconds", "Start time since the epoch", "gauge",
          [](const ProcessStats& s) { return std::to_string(static_cast<std::uint64_t>(s.start_time_s)); });
  return w.out().str();
}

}  // namespace sluice::supervisor
