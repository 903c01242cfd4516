// The consumer process of one lambda: the only process that talks to Kafka for it.
// It polls, writes records into the workers' rings, reaps their outcomes, and commits
// the contiguous watermark of completed offsets (docs/architecture.md, "Consumer").
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "consumer/assignment.hpp"
#include "consumer/commits.hpp"
#include "consumer/committed_reader.hpp"
#include "consumer/dead_letters.hpp"
#include "consumer/failure_path.hpp"
#include "consumer/fetch_control.hpp"
#include "consumer/fetch_states.hpp"
#include "consumer/invocations.hpp"
#include "consumer/offset_resets.hpp"
#include "consumer/offset_tracker.hpp"
#include "consumer/partition_reading.hpp"
#include "consumer/leader_watermarks.hpp"
#include "consumer/sent_log.hpp"
#include "consumer/suspects.hpp"
#include "consumer/worker_replies.hpp"
#include "consumer/worker_rings.hpp"
#include "kafka/acked_producer.hpp"
#include "kafka/kafka_handles.hpp"
#include "shm/carried_attempts.hpp"
#include "shm/ring.hpp"
#include "shm/segment.hpp"

namespace sluice::consumer {

class Consumer {
 public:
  // control_fd: this end of the supervisor's channel (shm/control_channel.hpp), or -1.
  Consumer(const shm::Segment& seg, config::Lambda lambda, const std::atomic<bool>& stop, int control_fd = -1);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Consumes until stop is set, then drains, commits and leaves the group. Returns the
  // process exit status.
  int run();
  // Records the previous consumer's workers had tried: when Kafka delivers them again
  // they start at that attempt count, alone in their ring (as suspects after a broken
  // ring are), and one whose attempts ran out takes the failure path.
  void carry(const std::vector<shm::CarriedAttempt>& list);

 private:
  using Key = Assignment::Key;
  static Key key_of(std::uint16_t topic_index, std::int32_t partition) { return Assignment::key_of(topic_index, partition); }

  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque);
  static void commit_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque);
  static int stats_cb(rd_kafka_t* rk, char* json, size_t len, void* opaque);
  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  // Reports the broker's committed offsets of newly assigned partitions (asked on
  // assignment, again while unanswered) until the consumer's own commits take over.
  void read_committed();
  void on_assign(rd_kafka_topic_partition_list_t* parts);
  void on_revoke(rd_kafka_topic_partition_list_t* parts);

  Partition* find(const char* topic, std::int32_t partition) const { return assignment_.find(topic, partition); }
  Partition* find(std::uint16_t topic_index, std::int32_t partition) const {
    return assignment_.find(topic_index, partition);
  }

  // One turn of the loop that moves records (stamp the heartbeat, serve the producers,
  // reap outcomes, refill and publish the rings), for the main loop, a revoke's drain
  // and the drain before stopping. A revoke's runs inside librdkafka's rebalance
  // callback: it starts nothing (no backlog is dispatched, no partition resumed or
  // restarted by an operator's request) while librdkafka takes partitions away.
  enum class Turn { kRun, kRevoke, kStop };
  void pass(Turn turn);
  void accept(kafka::MessagePtr msg);
  bool dispatch(Partition& p, const rd_kafka_message_t& msg);
  void pump_backlogs();
  void reap_all();
  void reap(std::uint32_t ring);
  using Sent = WorkerRings::Sent;
  // False when the record's status shows its worker broke the protocol (ring quarantined).
  bool complete(std::uint32_t ring, const Sent& s);
  // Empty, or why the reply is not one a worker writes (the caller quarantines the ring).
  std::string read_reply(std::uint32_t ring, const shm::RecordHeader* h, std::uint32_t size);
  // A worker broke the ring protocol: stop using its ring, have its records (and every
  // later record of their partitions) delivered again, and ask the supervisor to kill
  // the worker and reset the ring (shm/control_channel.hpp).
  void quarantine(std::uint32_t ring, const std::string& why);
  void poll_control();
  // Fetch p again from its first uncompleted offset, under a new epoch (whatever is in
  // flight for it goes stale).
  void rewind(Partition& p);
  // Whatever is in flight or fetched for p goes stale, and its offsets are tracked afresh.
  void forget_in_flight(Partition& p);
  void heartbeat();
  // Outbound records (shm/records.hpp): a leader's records are produced, and its
  // invocation's records complete when the broker acknowledged every one of them.
  void send_outbound(std::uint64_t leader, std::vector<kafka::OutMessage> messages);
  void settle(std::optional<Invocations::Settled> s);
  DeadLetter describe(const Partition& p, std::uint32_t ring, const Sent& s, std::uint32_t attempts, std::string reason);
  // A record being dispatched, with its headers as dispatch() collected them.
  DeadLetter describe(const Partition& p, const rd_kafka_message_t& m, std::string reason) const;
  void poll_producers();
  void set_paused(Partition& p, bool paused);
  // Unpauses p once its backlog is dispatched (and wakes the fetcher if it was idle).
  void resume(Partition& p);
  void stop_partition(Partition& p);
  // Retries stopped partitions (all, or those of topic_index / partition) from their
  // failed record; returns how many.
  std::uint32_t resume_stopped(std::uint32_t topic_index, std::int32_t partition, const char* why);
  void restart_fetch_at(Partition& p, std::int64_t offset);
  void restart_fetch_at(const std::vector<std::pair<Partition*, std::int64_t>>& starts);
  // Gauges and watermarks for the supervisor's metrics: librdkafka's cached values, and
  // the leaders' answers for partitions not being fetched. Restarts the fetch of a
  // partition librdkafka has stopped fetching (FetchStall).
  void publish_stats();
  void restart_stalled(Partition& p, const FetchSample& s);
  void shutdown();
  // Every record in flight is in a ring whose worker will not finish it soon: its
  // handler is unavailable, or (while stopping) the worker has ended.
  bool held_only_by_stalled_workers() const;
  std::size_t total_in_flight() const;
  std::size_t total_backlog() const;
  void clear_backlog(Partition& p);
  std::uint64_t backlog_bytes_ = 0;  // every partition's backlog, as records in a ring

  const shm::Segment& seg_;
  const config::Lambda lambda_;
  const std::atomic<bool>& stop_;
  shm::Stats& stats_;
  kafka::KafkaPtr rk_;
  kafka::QueuePtr queue_;
  std::unique_ptr<CommittedReader> committed_reader_;
  std::unique_ptr<LeaderWatermarks> leader_watermarks_;  // before rk_ goes: it joins its thread
  std::unique_ptr<FetchControl> fetch_;  // every pause, resume, assign and restart of a fetch
  bool shutting_down_ = false;
  // From librdkafka's statistics, read only while a partition is suspected of a stall
  // (the report is long, and read each second).
  bool want_fetch_states_ = false;
  FetchStates fetch_states_;
  std::unique_ptr<FailurePath> failures_;
  WorkerRings rings_;
  int control_fd_ = -1;
  bool cannot_repair_ = false;  // a ring was quarantined and the supervisor could not be asked
  Suspects suspects_;
  Assignment assignment_;
  std::unique_ptr<OffsetResets> resets_;
  std::unique_ptr<Commits> commits_;
  // The headers of the record dispatch() is writing (views into its message), kept to
  // reuse the allocation.
  struct Header {
    std::string_view name;
    const void* value;  // nullptr: a null value
    std::size_t size;
  };
  std::vector<Header> headers_;
  WorkerReplies said_;  // what the reply rings said about records in flight
  Invocations invocations_;  // waiting for the broker to acknowledge their outbound records
  std::unique_ptr<kafka::AckedProducer> out_;  // made on first use
  std::uint64_t seq_ = 0;
  // CLOCK_MONOTONIC read once per loop pass and per batch taken from librdkafka: the
  // enqueue time of the records written then, instead of a read per record (25-50 ns
  // each on these machines).
  std::uint64_t clock_ns_ = 0;
  std::chrono::steady_clock::time_point next_commit_;
};

// Entry point of `sluice consumer --lambda NAME --segment-fd N --layout-fd M
// --control-fd C --config-fd F`: the descriptors of the lambda's segment, of the
// supervisor's channel and of the lambda's whole config, inherited from the supervisor.
// --carried-fd (optional): the attempts the previous consumer's workers had made
// (shm/carried_attempts.hpp).
int run_consumer(const std::string& lambda_name, int segment_fd, int layout_fd, int control_fd, int config_fd,
                 int carried_fd = -1);

}  // namespace sluice::consumer
