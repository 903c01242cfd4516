// Kafka clients of the tests' own: the producer of sequence-numbered records,
// another group member, and readers of topics and committed offsets (never sluice's
// own report).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kafka/kafka_handles.hpp"

namespace sluice::test {

namespace fs = std::filesystem;

// Produces `count` messages with sequence numbers first..first+count-1 to explicit
// partitions (seq % partitions), value "s<seq>-" padded to value_bytes (big_bytes for
// seq == big_seq), key "k<seq % keys>", and a header "seq" = "<seq>". `value_of`, if
// given, makes the value instead (keep the "s<seq>-" prefix for the oracle);
// `timestamp_ms_of`, if given, the record's timestamp (else the producer's clock).
void produce(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t first,
             std::uint64_t count, std::size_t value_bytes = 100, int keys = 50, std::uint64_t big_seq = ~0ULL,
             std::size_t big_bytes = 0, const std::function<std::string(std::uint64_t)>& value_of = {},
             const std::function<std::int64_t(std::uint64_t)>& timestamp_ms_of = {});

// Produces one record to `partition` with exactly these bytes: key and header values
// nullopt = null; headers in order, repeats allowed.
void produce_exact(const std::string& bootstrap, const std::string& topic, int partition, std::optional<std::string> key,
                   const std::string& value, const std::vector<std::pair<std::string, std::optional<std::string>>>& headers);

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

struct TopicMessage {
  int partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::map<std::string, std::string> headers;  // last value per name
  std::vector<std::pair<std::string, std::optional<std::string>>> header_list;  // all, in order; null kept
};
// Reads every message of `topic` from the beginning (no group) until `count` arrived or
// `limit` passed.
std::vector<TopicMessage> read_topic(const std::string& bootstrap, const std::string& topic, std::size_t count,
                                     std::chrono::milliseconds limit);

// partition -> committed offset (-1 if none) of `group` on `topic`.
std::map<int, std::int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                              const std::string& topic, int timeout_ms = 10000);

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

}  // namespace sluice::test
