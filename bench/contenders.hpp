// The consumers a benchmark run compares, each in its own process and consumer group,
// reporting every record into a counters file: sluice (no-op or spinning plugin), a bare
// librdkafka consumer doing sluice's bookkeeping, and the peers users come from (kcat,
// confluent-kafka-python, kafka-python).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace sluice::bench {

// librdkafka 2.0.2 stops fetching when its prefetch queue holds more than
// queued.min.messages and looks again only on a ~1 s broker-thread timer: one 64-partition
// fetch response (~140k small messages) trips the default 100000 and every librdkafka
// contender stalls for a second at a time. All get a limit one response cannot reach.
inline constexpr const char* kQueuedMin = "1000000";
// A fetch that comes back empty (fetch.wait.max.ms is short) holds the next fetch back by
// fetch.error.backoff.ms, 500 ms by default: that, not the path, would be the latency.
inline constexpr const char* kFetchErrorBackoff = "10";

struct Job {
  std::string bootstrap;
  std::string topic;
  std::string group;
  const CountersFile* counters = nullptr;
  std::string work_dir;  // for config files and logs
  int workers = 1;       // sluice only
  long spin_ns = 0;      // sluice only: CPU per record in the handler
  // The broker holds an empty fetch this long, and librdkafka waits the backoff before
  // the next: together they bound how soon a new record is fetched (bare, sluice, kcat).
  std::string fetch_wait_ms = "10";
  std::string fetch_backoff_ms = kFetchErrorBackoff;
  std::string lambda_extra{};  // sluice only: TOML added to the [[lambda]] table (e.g. filters)
  std::size_t prefix_at = 0;  // sluice only: where the benchmark prefix starts in a value
};

struct Started {
  pid_t pid = -1;
  bool stop_with_sigterm = true;    // false: it exits by itself once done
  std::function<void()> after_exit;  // joins helper threads, if any
};

// kind: "bare", "sluice", "kcat", "confluent", "kafka-python".
Started start_contender(const std::string& kind, const Job& job);

// The bare consumer's body, run in a child process (`e2e_bench bare ...`) until SIGTERM.
// args: bootstrap, topic, group, counters file, fetch.wait.max.ms, fetch.error.backoff.ms.
int run_bare(const std::vector<std::string>& args);

// RSS (kB) of sluice's consumer and of its largest worker, children of a running supervisor.
struct SluiceRss {
  Memory supervisor;
  Memory consumer;
  Memory worker;
};
SluiceRss sluice_rss(pid_t supervisor);

}  // namespace sluice::bench
