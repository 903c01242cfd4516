// What the benchmarks share: processes, the dev broker, backlogs and paced producers
// whose values bench_counters.h can check, the counters file, and the machine line
// every report prints.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench_counters.h"

namespace sluice::bench {

std::uint64_t now_ns();

// A TCP socket listening on 127.0.0.1 at a free port (`port`), for the benchmarks' own
// endpoints; `type_flags` are added to SOCK_STREAM (SOCK_NONBLOCK, SOCK_CLOEXEC). Throws
// with `who` and the system's reason.
int listen_on_loopback(int type_flags, int backlog, int& port, const char* who);

// A zeroed counters file (bench_counters.h) for sequence numbers 0..capacity-1, mapped
// shared, for contenders in other processes to report into.
class CountersFile {
 public:
  CountersFile(std::string path, std::uint64_t capacity);
  ~CountersFile();
  CountersFile(const CountersFile&) = delete;
  CountersFile& operator=(const CountersFile&) = delete;
  const std::string& path() const { return path_; }
  sluice_bench_counters* get() const { return c_; }
  std::uint64_t count() const { return __atomic_load_n(&c_->count, __ATOMIC_ACQUIRE); }
  bool seen(std::uint64_t seq) const;
  // Distinct sequence numbers in [from, to) not seen yet.
  std::uint64_t missing(std::uint64_t from, std::uint64_t to) const;
  // Latencies (ns) of the first deliveries of [from, to).
  std::vector<std::uint64_t> latencies(std::uint64_t from, std::uint64_t to) const;

 private:
  std::string path_;
  sluice_bench_counters* c_ = nullptr;
  std::size_t bytes_ = 0;
};

// posix_spawn with stdout to out_file and stderr to out_file + ".err".
pid_t spawn(const std::vector<std::string>& argv, const std::string& out_file);

struct Result {
  double msgs_per_s = 0;      // from the first to the last message handled
  double cpu_us_per_msg = 0;  // the whole process tree, from wait4()
  std::uint64_t missing = 0;
  std::uint64_t duplicates = 0;
};
// Waits (at most `limit_s`) until `expect` messages (sequence numbers [0, expect)) were
// handled, SIGTERMs the process if asked, reaps it, and counts what is missing or was
// delivered twice. before_stop runs once everything arrived, before the SIGTERM.
Result finish(pid_t pid, const CountersFile& c, std::uint64_t expect, bool signal_stop, const std::string& what,
              int limit_s = 300, const std::function<void()>& before_stop = {});
// The same for a contender whose processes each report into a file of their own (a
// Python Counters is not safe to share between processes): counts add up, a record seen
// in two files is a duplicate.
Result finish(pid_t pid, const std::vector<const CountersFile*>& files, std::uint64_t expect, bool signal_stop,
              const std::string& what, int limit_s = 300, const std::function<void()>& before_stop = {});

// `sluice dev-broker` with topics given as "NAME:PARTITIONS"; returns its bootstrap address.
std::string start_broker(const std::string& sluice_bin, const std::vector<std::string>& topics, const std::string& dir,
                         pid_t& pid);
void stop_process(pid_t pid);

// A value of `bytes` bytes (at least the 32-byte prefix) for sequence `seq`, sent at `sent_ns`.
std::string bench_value(std::uint64_t seq, std::uint64_t sent_ns, std::size_t bytes);
// Record i of [0, count) with value value_of(i), round robin over explicit partitions, flushed.
void produce_values(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t count,
                    const std::function<std::string(std::uint64_t)>& value_of);
// Sequence numbers [first, first + count), round robin over explicit partitions, flushed.
void produce_backlog(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t first,
                     std::uint64_t count, std::size_t value_bytes);
// JSON values of about 100 bytes, {"id":"<prefix>","kind":K,"pad":"..."} with K = i % 10
// for record i, the benchmark prefix at kJsonPrefixAt. `numbered_kind0`: the prefix
// numbers the kind-0 records 0, 1, 2, ... and every other record from `count` up (so that
// a run that should see only kind 0 counts exactly those); else it numbers all records.
inline constexpr std::size_t kJsonPrefixAt = 7;
void produce_json_backlog(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t count,
                          bool numbered_kind0);
// Open loop: sequence numbers [first, first + count) at `rate` per second, each value
// carrying the time it was scheduled for (not when it was sent: a late producer counts
// against the latency, as a real source would). Returns the rate actually achieved.
double produce_paced(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t first,
                     std::uint64_t count, std::size_t value_bytes, double rate);

// Resident memory of a process: RSS counts every page it maps, shared libraries whole;
// PSS divides each shared page among the processes that map it.
struct Memory {
  std::uint64_t rss_kb = 0;
  std::uint64_t pss_kb = 0;
};
Memory memory_of(pid_t pid);
// Context switches (voluntary and not) of every thread of pid and of its descendants,
// so far: how often the pipeline slept or was preempted.
std::uint64_t context_switches(pid_t pid);
// Direct children of pid.
std::vector<pid_t> children_of(pid_t pid);
std::string cmdline_of(pid_t pid);

double median(std::vector<double> v);
// The q-quantile (0..1) of v (sorted in place).
double quantile(std::vector<std::uint64_t>& v, double q);
// "machine: N cores, <cpu>, kernel K, librdkafka V"
std::string machine_line();

}  // namespace sluice::bench
