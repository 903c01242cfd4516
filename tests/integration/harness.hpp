// Test harness: the dev broker and the sluice daemon as real processes, a real
// producer, the recorder plugin's outcome logs, and the oracle (I1-I5 below).
#pragma once

#include <sys/types.h>

#include <boost/process/child.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kafka/kafka_handles.hpp"

namespace sluice::test {

namespace fs = std::filesystem;

// Polls pred every 20 ms until it holds or `limit` passes. Returns whether it held.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// `sluice dev-broker` in its own process.
class DevBroker {
 public:
  explicit DevBroker(const std::vector<std::string>& topics, int brokers = 1);
  ~DevBroker();
  const std::string& bootstrap() const { return bootstrap_; }
  // Sends one control line (see app/dev_broker.cpp) and returns the broker's reply.
  std::string control(const std::string& line);

 private:
  boost::process::opstream in_;
  boost::process::ipstream out_;
  boost::process::child child_;
  std::string bootstrap_;
};

// Produces `count` messages with sequence numbers first..first+count-1 to explicit
// partitions (seq % partitions), value "s<seq>-" padded to value_bytes (big_bytes for
// seq == big_seq), key "k<seq % keys>", and a header "seq" = "<seq>". `value_of`, if
// given, makes the value instead (keep the "s<seq>-" prefix for the oracle);
// `timestamp_ms_of`, if given, the record's timestamp (else the producer's clock).
void produce(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t first,
             std::uint64_t count, std::size_t value_bytes = 100, int keys = 50, std::uint64_t big_seq = ~0ULL,
             std::size_t big_bytes = 0, const std::function<std::string(std::uint64_t)>& value_of = {},
             const std::function<std::int64_t(std::uint64_t)>& timestamp_ms_of = {});

// Another member of `group`, subscribed to `topic`, that commits nothing: it takes
// partitions away from a daemon in the group, and they go back when it closes. Uses
// sluice's assignor (cooperative-sticky): the 2.0.2 mock aborts when members' first
// protocols differ. Poll it (rd_kafka_consumer_poll) to take part in rebalances.
// sync_refusals, if set, counts the SyncGroup answers the member got that were not a
// success. The 2.0.2 mock refuses (REBALANCE_IN_PROGRESS) a follower's SyncGroup that
// arrives after the leader's, where a broker hands the follower its assignment; the
// follower rejoins and the group rebalances again for session.timeout.ms less 1 s,
// refusing every commit meanwhile. A test whose premise is a stable group checks this.
kafka::KafkaPtr group_member(const std::string& bootstrap, const std::string& group, const std::string& topic,
                             std::atomic<int>* sync_refusals = nullptr);

std::string seq_value_prefix(std::uint64_t seq);  // "s<seq>-"
// The seq of a value produce() made ("s<seq>-...").
std::uint64_t seq_of(const std::string& value);
// Where produce() put seq: (partition, offset), with `partitions` partitions.
std::pair<int, std::int64_t> where(std::uint64_t seq, int partitions = 8);
// `text` with the first `from` replaced by `to`; throws if there is none (a test's
// config edit that silently did nothing would test something else).
std::string with(std::string text, const std::string& from, const std::string& to);

// Produces batches of sequence-numbered records (as produce(), numbers continuing from
// 0) on a thread, one batch every `every`, until finish(): load that arrives while a
// test does something else. Keep per_batch / every small enough that each partition's
// backlog stays under the mock's 5 MiB.
class LoadProducer {
 public:
  struct Shape {
    std::string topic = "events";
    int partitions = 8;
    std::uint64_t per_batch = 100;
    std::chrono::milliseconds every{100};
    std::size_t value_bytes = 100;
    std::uint64_t first_seq = 0;  // records before it were produced already
  };
  LoadProducer(std::string bootstrap, Shape shape);
  ~LoadProducer();
  LoadProducer(const LoadProducer&) = delete;
  LoadProducer& operator=(const LoadProducer&) = delete;
  // Records produced so far, counting from seq 0 (all of them acknowledged by the broker).
  std::uint64_t produced() const { return produced_.load(); }
  // Stops producing; returns how many records were produced.
  std::uint64_t finish();
  // Why producing stopped early, after finish(); empty if it did not.
  const std::string& error() const { return error_; }

 private:
  std::string bootstrap_;
  Shape shape_;
  std::string error_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> produced_{0};
  std::thread thread_;
};

// The test's ASAN_OPTIONS (as scripts/test.sh sets them) with `option` added, for a
// daemon's environment.
std::string asan_options_with(const std::string& option);
// Daemon environment that lets a handler's SIGSEGV kill its worker even in the ASan
// build (ASan would otherwise catch it and exit 1).
std::map<std::string, std::string> segv_kills_env();

// SLUICE_SOAK=1 (scripts/test.sh --soak): long-running tests run for minutes.
bool soak();

// `sluice ARGS...` run to completion; stdout and stderr through files in dir.
struct CliResult {
  int status;
  std::string out;
  std::string err;
};
CliResult run_sluice(const fs::path& dir, const std::vector<std::string>& args);

// One request to a daemon's admin API, found through <dir>/run/<instance>.admin (the
// address the daemon bound; daemon_config asks for port 0). Waits up to 30 s for the file.
// Without `token`, the one the daemon made for this run (<dir>/run/<instance>.token), if
// there is one, as `sluice status` would.
struct AdminReply {
  int status = 0;  // 0: no connection
  std::string body;
  std::string content_type;
};
AdminReply admin(const fs::path& dir, const std::string& instance, const std::string& method, const std::string& path,
                 const std::string& token = "");
// The same with exactly these request headers (no token unless one is among them).
AdminReply admin_with(const fs::path& dir, const std::string& instance, const std::string& method, const std::string& path,
                      const std::map<std::string, std::string>& headers);
// "host:port" from <dir>/run/<instance>.admin (waits up to 30 s for it).
std::string admin_address(const fs::path& dir, const std::string& instance);
// The token the daemon made for this run, or "".
std::string run_token(const fs::path& dir, const std::string& instance);

// Config text for a daemon whose lambdas use the recorder plugin.
struct LambdaSpec {
  std::string name;
  std::string topic;
  int workers = 3;
  std::string ordering = "partition";
  long sleep_us = 0;
  std::string extra;  // more TOML lines for the [[lambda]] table
  std::string handler_extra;  // more lines for [lambda.handler], e.g. "timeout_ms = 500"
  std::string options;        // more recorder options, e.g. "fail_seqs = \"7\""
  std::string handler;        // if set, the whole [lambda.handler] body instead of the recorder
};
std::string daemon_config(const std::string& instance, const fs::path& dir, const std::string& bootstrap,
                          const std::vector<LambdaSpec>& lambdas);
// The same lambda as a lambdas.d file (a [lambda] table).
std::string lambda_file(const fs::path& dir, const std::string& bootstrap, const LambdaSpec& lambda);

// How to start a daemon beyond its config.
struct DaemonOptions {
  bool own_process_group = false;  // setpgid(0, 0), so a test can signal the whole group
  std::optional<std::pair<std::uint64_t, std::uint64_t>> nofile;  // RLIMIT_NOFILE soft, hard
  std::optional<uid_t> uid;  // run as this user (and its group of the same number); the test must be root
};

// `sluice run` in its own process; stderr goes to a file in dir.
class Daemon {
 public:
  // env: extra environment variables for the daemon and its children.
  Daemon(const fs::path& dir, const std::string& config_text, const std::string& tag = "run",
         const std::map<std::string, std::string>& env = {}, const DaemonOptions& options = {});
  ~Daemon();
  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits for exit; returns the raw wait status, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds limit);
  // Child processes of the daemon whose command line contains `role` (and `--slot N`).
  std::vector<pid_t> children(const std::string& role) const;
  std::string log() const;
  // Open file descriptors of the supervisor process.
  std::size_t open_fds() const;
  // Children of the supervisor that have exited but were not reaped.
  std::size_t zombie_children() const;

 private:
  fs::path log_path_;
  boost::process::child child_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

struct Outcome {
  std::string topic;
  int partition = 0;
  std::int64_t offset = 0;
  std::uint32_t attempt = 0;
  std::string outcome;
  std::string key;
  std::string value;
  std::string file;  // which worker process logged it
};
// Every outcome line the recorder wrote for lambda `name` under log_dir.
std::vector<Outcome> read_outcomes(const fs::path& log_dir, const std::string& name);

struct TopicMessage {
  int partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::map<std::string, std::string> headers;  // last value per name
};
// Reads every message of `topic` from the beginning (no group) until `count` arrived or
// `limit` passed.
std::vector<TopicMessage> read_topic(const std::string& bootstrap, const std::string& topic, std::size_t count,
                                     std::chrono::milliseconds limit);

// partition -> committed offset (-1 if none) of `group` on `topic`.
std::map<int, std::int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                              const std::string& topic, int timeout_ms = 10000);

// "it<pid>n<k>": unique per test process; scripts/test.sh counts leaked segments by it.
std::string unique_instance();
// partition -> end offset after `produced` records went round-robin over `partitions`.
std::map<int, std::int64_t> end_offsets(std::uint64_t produced, int partitions);
// committed_offsets(), or {} while the group's coordinator cannot answer yet.
std::map<int, std::int64_t> committed_or_empty(const std::string& bootstrap, const std::string& group,
                                               const std::string& topic = "events");
// The group has committed every one of `produced` records that went round-robin over
// `partitions` partitions of `topic` (the skeleton's "everything was handled").
bool committed_to_end(const std::string& bootstrap, const std::string& group, std::uint64_t produced, int partitions,
                      const std::string& topic = "events");
// Sum of the committed offsets (partitions without one count 0).
std::int64_t committed_sum(const std::string& bootstrap, const std::string& group, const std::string& topic = "events");
// Occurrences of `what` in `text`.
std::size_t count_of(const std::string& text, const std::string& what);

// Oracle checks; each returns an empty string when it holds, else what broke.
// I1: every seq in [0, count) handled ok at least once.
std::string check_no_loss(const std::vector<Outcome>& outcomes, std::uint64_t count);
// I2: every offset below each committed offset has an ok outcome.
// Offsets in `dead_lettered` (partition, offset) count as completed too.
std::string check_commit_safety(const std::vector<Outcome>& outcomes, const std::map<int, std::int64_t>& committed,
                                const std::set<std::pair<int, std::int64_t>>& dead_lettered = {});
// Number of ok outcomes beyond the first for the same (partition, offset).
std::size_t count_duplicates(const std::vector<Outcome>& outcomes);
// A sanitizer report from any sluice process (their stderr goes to the daemon log), or "".
std::string sanitizer_report(const std::string& log);
// True while pid runs (a zombie counts as gone).
bool process_alive(pid_t pid);

// The contents of a /proc file, or "" once the process it describes has gone.
std::string read_proc_file(const std::filesystem::path& path);
// The number in the consumer's "N backpressure pauses" stop line, or -1 if absent.
long backpressure_pauses(const std::string& log, const std::string& lambda);
// I5: no process running for the instance (children name it with --instance), and no
// segment of it in /dev/shm (segments are memfds: none should ever be there).
std::string check_hygiene(const std::string& instance);

}  // namespace sluice::test
