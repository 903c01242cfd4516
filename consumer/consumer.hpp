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
#include "consumer/dead_letters.hpp"
#include "consumer/failure_path.hpp"
#include "consumer/incoming_record.hpp"
#include "consumer/record_filter.hpp"
#include "consumer/fetch_control.hpp"
#include "consumer/group_state.hpp"
#include "consumer/outbound_sender.hpp"
#include "consumer/offset_resets.hpp"
#include "consumer/offset_tracker.hpp"
#include "consumer/partition_gauges.hpp"
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
  // An invocation's outbound records were all acknowledged (its records complete), or
  // one was refused for good (they fail).
  void settle(const Invocations::Settled& s);
  DeadLetter describe(const Partition& p, std::uint32_t ring, const Sent& s, std::uint32_t attempts, std::string reason);
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
  // Once a second: the gauges the supervisor reports (consumer/partition_gauges.hpp),
  // and stopped partitions whose resume_stopped_after_s passed are retried.
  void publish_stats();
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
  std::unique_ptr<PartitionGauges> gauges_;  // before rk_ goes: it joins its thread
  std::unique_ptr<FetchControl> fetch_;  // every pause, resume, assign and restart of a fetch
  GroupWatch group_{lambda_.name, lambda_.group_id};
  bool shutting_down_ = false;
  std::unique_ptr<FailurePath> failures_;
  WorkerRings rings_;
  int control_fd_ = -1;
  bool cannot_repair_ = false;  // a ring was quarantined and the supervisor could not be asked
  Suspects suspects_;
  Assignment assignment_;
  std::unique_ptr<OffsetResets> resets_;
  std::unique_ptr<Commits> commits_;
  IncomingRecord incoming_{lambda_.trace};  // the record dispatch() is writing
  RecordFilter filter_{lambda_.filters};
  WorkerReplies said_;  // what the reply rings said about records in flight
  std::unique_ptr<OutboundSender> outbound_;
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
