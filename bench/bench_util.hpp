// What the benchmarks share: processes, the dev broker, a backlog, counters that a
// handler in another process stamps, and the machine description every report prints.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace sluice::bench {

// Written by whatever handles messages (bench/noop_plugin.c, bench/count_handler.py, the
// http bench server): how many, and CLOCK_MONOTONIC of the first and the last.
struct Counters {
  std::atomic<std::uint64_t> count;
  std::atomic<std::uint64_t> first_ns;
  std::atomic<std::uint64_t> last_ns;
};

std::uint64_t now_ns();
// A zeroed 4 KiB file mapped shared, for a handler in another process to update.
Counters* fresh_counters(const std::string& path);
void release_counters(Counters* c);

// posix_spawn with stdout to out_file and stderr to out_file + ".err".
pid_t spawn(const std::vector<std::string>& argv, const std::string& out_file);

struct Result {
  double msgs_per_s;      // from the first to the last message handled
  double cpu_us_per_msg;  // the whole process tree, from wait4()
};
// Waits (at most 5 minutes) until `expect` messages were handled, SIGTERMs the process
// if asked, reaps it and checks it handled exactly `expect` (no loss, no duplicates).
Result finish(pid_t pid, Counters* c, std::uint64_t expect, bool signal_stop, const std::string& what);

// `sluice dev-broker` with topics given as "NAME:PARTITIONS"; returns its bootstrap address.
std::string start_broker(const std::string& sluice_bin, const std::vector<std::string>& topics, const std::string& dir,
                         pid_t& pid);
void stop_process(pid_t pid);
// `count` values of `value_bytes` bytes, round robin over explicit partitions.
void produce_backlog(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t count,
                     std::size_t value_bytes);

double median(std::vector<double> v);
// "machine: N cores, <cpu>, kernel K, librdkafka V"
std::string machine_line();

}  // namespace sluice::bench
