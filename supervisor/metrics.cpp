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

std::string to_prometheus(const std::vector<LambdaReport>& reports) {
  Writer w(reports);
  w.gauge("sluice_lambda_up", "1 while the lambda's consumer and every worker are running", [&](const auto& r, const auto& l) {
    w.out() << "sluice_lambda_up{" << l << "} " << (r.state == "running" ? 1 : 0) << "\n";
  });
  w.gauge("sluice_lambda_state", "The lambda's state: 1 for the current one", [&](const auto& r, const auto& l) {
    for (const char* s : {"starting", "running", "stopping", "stopped", "failed"}) {
      w.out() << "sluice_lambda_state{" << l << ",state=\"" << s << "\"} " << (r.state == s ? 1 : 0) << "\n";
    }
  });
  w.counter("sluice_records_consumed_total", "Records fetched from Kafka", &LambdaReport::consumed);
  w.counter("sluice_records_handled_total", "Records whose handler succeeded", &LambdaReport::handled);
  w.counter("sluice_records_failed_total", "Records that took the failure path", &LambdaReport::failed);
  w.counter("sluice_records_retried_total", "Handler attempts that ended in a retry", &LambdaReport::retried);
  w.counter("sluice_records_dead_lettered_total", "Records whose dead letter the broker acknowledged",
            &LambdaReport::dead_lettered);
  w.counter("sluice_records_skipped_total", "Records skipped by on_failure = \"skip\"", &LambdaReport::skipped);
  w.counter("sluice_records_revoked_total", "Records not handled because their partition was revoked",
            &LambdaReport::stale);
  w.counter("sluice_records_produced_total", "Outbound records the broker acknowledged", &LambdaReport::produced);
  w.counter("sluice_handler_invocations_total", "Handler calls (a batch is one call)", &LambdaReport::invocations);
  w.gauge("sluice_records_in_flight", "Records in the workers' rings, not yet completed", [&](const auto& r, const auto& l) {
    if (r.has_counters) w.out() << "sluice_records_in_flight{" << l << "} " << r.in_flight << "\n";
  });
  w.gauge("sluice_records_backlog", "Records fetched and waiting for ring room", [&](const auto& r, const auto& l) {
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
  w.counter("sluice_commits_total", "Offset commits the broker acknowledged, per partition", &LambdaReport::commits);
  w.counter("sluice_commits_failed_total", "Offset commits that failed, per partition", &LambdaReport::commits_failed);
  w.counter("sluice_rebalances_total", "Partition assignments and revocations", &LambdaReport::rebalances);
  w.counter("sluice_partition_pauses_total", "Partitions paused because rings were full", &LambdaReport::pauses);
  w.counter("sluice_offset_resets_total", "Positions found outside the log", &LambdaReport::offset_resets);
  w.counter("sluice_offsets_skipped_total", "Records never handled because of offset resets",
            &LambdaReport::offsets_skipped);
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
  w.gauge("sluice_lambda_lag", "Sum of the lag of the lambda's assigned partitions", [&](const auto& r, const auto& l) {
    w.out() << "sluice_lambda_lag{" << l << "} " << r.lag() << "\n";
  });
  return w.out().str();
}

}  // namespace sluice::supervisor
