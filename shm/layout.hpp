// The byte layout of a lambda's shared-memory segment. Every process that maps the
// segment (supervisor, consumer, workers) agrees on it through this header alone, so
// every field offset is pinned with a static_assert: a change here is a wire change
// and must bump kSegmentVersion.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>

namespace sluice::shm {

// Our own constant rather than std::hardware_destructive_interference_size, whose
// value may differ between compilers and which g++ 12 warns about in headers.
inline constexpr std::size_t kCacheLine = 64;

inline constexpr std::uint64_t kSegmentMagic = 0x31454349554C53ULL;  // "SLUICE1"
inline constexpr std::uint32_t kSegmentVersion = 10;

template <typename T>
concept ShmAtomic = std::atomic<T>::is_always_lock_free && sizeof(T) <= 8;
static_assert(ShmAtomic<std::uint64_t> && ShmAtomic<std::uint32_t>);

// What a worker wrote for a record it took. Pending until the worker decides.
enum class Status : std::uint32_t {
  kPending = 0,
  kOk = 1,      // handler succeeded
  kFailed = 2,  // handler failed for good; reason is in the reply ring
  kRevoked = 3,  // partition was revoked after enqueue: not handled, not to be committed
};

// What each kind carries, and its only writers and reader: shm/records.hpp.
enum class RecordKind : std::uint32_t { kRecord = 1, kWrap = 2, kReply = 3, kOutbound = 4, kAwait = 5 };

inline constexpr std::uint8_t kFlagKeyNull = 1U << 0;
inline constexpr std::uint8_t kFlagValueNull = 1U << 1;

// Fixed header of every record in a ring, followed by key, value and encoded headers.
// A wrap marker uses only `size` and `kind`. (a) = atomic, written by the reading side.
//
//   0                               4                               8
//   +-------------------------------+-------------------------------+
//   | size                          | kind                          |  0
//   +-------------------------------+-------------------------------+
//   | seq                                                           |  8
//   | offset                                                        | 16
//   | timestamp_ms                                                  | 24
//   | enqueue_ns                                                    | 32
//   +-------------------------------+-------------------------------+
//   | partition                     | slot                          | 40
//   | epoch                         | topic_index   |ts_type| flags | 48
//   | key_len                       | value_len                     | 56
//   | headers_len                   | attempts (a)                  | 64
//   | status (a)                    | aux                           | 72
//   +-------------------------------+-------------------------------+ 80
//   | key, value, headers (shm/headers_codec.hpp), zeroes to size   |
struct RecordHeader {
  std::uint32_t size;  // whole record, header included, multiple of 8
  RecordKind kind;
  std::uint64_t seq;  // per-lambda dispatch sequence, unique within a consumer run
  std::int64_t offset;
  std::int64_t timestamp_ms;
  std::uint64_t enqueue_ns;  // CLOCK_MONOTONIC at enqueue
  std::int32_t partition;
  std::uint32_t slot;   // partition slot: index into the segment's epoch table
  std::uint32_t epoch;  // the slot's epoch at enqueue; a different epoch now = revoked
  std::uint16_t topic_index;
  std::uint8_t timestamp_type;
  std::uint8_t flags;
  std::uint32_t key_len;
  std::uint32_t value_len;
  std::uint32_t headers_len;
  // Incremented by the worker before each handler invocation, so a crash still counts.
  std::atomic<std::uint32_t> attempts;
  std::atomic<Status> status;
  std::uint32_t aux;  // kOutbound: length of the destination topic (shm/records.hpp)
};
static_assert(sizeof(RecordHeader) == 80);
static_assert(offsetof(RecordHeader, seq) == 8);
static_assert(offsetof(RecordHeader, offset) == 16);
static_assert(offsetof(RecordHeader, enqueue_ns) == 32);
static_assert(offsetof(RecordHeader, partition) == 40);
static_assert(offsetof(RecordHeader, epoch) == 48);
static_assert(offsetof(RecordHeader, topic_index) == 52);
static_assert(offsetof(RecordHeader, flags) == 55);
static_assert(offsetof(RecordHeader, key_len) == 56);
static_assert(offsetof(RecordHeader, attempts) == 68);
static_assert(offsetof(RecordHeader, status) == 72);
static_assert(offsetof(RecordHeader, aux) == 76);
static_assert(std::atomic<Status>::is_always_lock_free);

// Control block of one SPSC ring. Positions are byte counts that only grow (no ABA);
// the producer owns write_pos, the consumer of the ring owns read_pos, each on its own
// cache line so neither side's stores invalidate the other's hot line. A ring's size and
// place are not here: every process takes them from the sealed layout (below), since a
// worker can write anything in this segment.
struct RingControl {
  alignas(kCacheLine) std::atomic<std::uint64_t> write_pos;
  alignas(kCacheLine) std::atomic<std::uint64_t> read_pos;
  // Futex words: 32-bit, shared (no FUTEX_PRIVATE_FLAG). A side that is about to sleep
  // raises its *_waiting flag, re-checks the ring, then waits on the sequence word; the
  // other side bumps the word and wakes only if the flag is up.
  alignas(kCacheLine) std::atomic<std::uint32_t> data_seq;
  std::atomic<std::uint32_t> reader_waiting;
  alignas(kCacheLine) std::atomic<std::uint32_t> space_seq;
  std::atomic<std::uint32_t> writer_waiting;
};
static_assert(offsetof(RingControl, write_pos) == 0);
static_assert(offsetof(RingControl, read_pos) == 64);
static_assert(offsetof(RingControl, data_seq) == 128);
static_assert(offsetof(RingControl, reader_waiting) == 132);
static_assert(offsetof(RingControl, space_seq) == 192);
static_assert(offsetof(RingControl, writer_waiting) == 196);
static_assert(sizeof(RingControl) == 256);

// What the supervisor and the processes of one worker slot tell each other; one per
// worker slot, outliving the processes that fill it. Supervision, not ring protocol, so
// apart from RingControl.
struct alignas(kCacheLine) WorkerSlot {
  // CLOCK_MONOTONIC when the running handler call started; 0 when none runs. The
  // supervisor kills a worker whose call outlives timeout_ms.
  std::atomic<std::uint64_t> invocation_start_ns;
  // Set by the worker once its handler is ready; zeroed by the supervisor before it
  // starts a worker and when it reaps one (then nobody reads the slot's forward ring).
  std::atomic<std::int32_t> reader_pid;
  // Raw wait status of the previous worker, written by the supervisor before it starts a
  // replacement; tells the new worker how a redelivered record's attempt ended.
  std::atomic<std::int32_t> last_exit_status;
  // Non-zero when the supervisor killed that worker because a handler call ran past
  // timeout_ms (this many ms), so the reason says "timed out" rather than "SIGKILL".
  std::atomic<std::uint32_t> last_exit_timeout_ms;
};
static_assert(offsetof(WorkerSlot, reader_pid) == 8);
static_assert(offsetof(WorkerSlot, last_exit_status) == 12);
static_assert(offsetof(WorkerSlot, last_exit_timeout_ms) == 16);
static_assert(sizeof(WorkerSlot) == kCacheLine);
static_assert(std::atomic<std::int32_t>::is_always_lock_free);

// A latency histogram written by one process and read by the supervisor for /metrics.
// Buckets are not cumulative here (one increment per observation); the reader sums them
// into Prometheus's cumulative `le` buckets. Upper bounds in microseconds.
inline constexpr std::uint64_t kLatencyBoundsUs[] = {10,        25,        50,         100,       250,     500,
                                                     1'000,     2'500,     5'000,      10'000,    25'000,  50'000,
                                                     100'000,   250'000,   500'000,    1'000'000, 2'500'000, 5'000'000,
                                                     10'000'000, 30'000'000};
inline constexpr std::size_t kLatencyBuckets = std::size(kLatencyBoundsUs) + 1;  // + the +Inf bucket

// Adds to a counter that has one writer at a time (the consumer, or the worker of one
// slot; readers only load). Load + store instead of fetch_add: the value stays exact and
// each word whole, without a locked read-modify-write on the per-record path.
template <typename T>
inline void bump(std::atomic<T>& counter, T n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct Histogram {
  std::atomic<std::uint64_t> buckets[kLatencyBuckets];
  std::atomic<std::uint64_t> sum_ns;

  // Single writer (see bump).
  void observe(std::uint64_t ns) {
    const std::uint64_t us = ns / 1000;
    std::size_t i = 0;
    while (i < std::size(kLatencyBoundsUs) && us > kLatencyBoundsUs[i]) ++i;
    bump(buckets[i]);
    bump(sum_ns, ns);
  }
};
static_assert(sizeof(Histogram) == 8 * (kLatencyBuckets + 1));

// Counters of one worker slot; they outlive the worker processes that fill them.
struct alignas(kCacheLine) WorkerStats {
  std::atomic<std::uint64_t> invocations;  // handler calls (a batch is one call)
  std::atomic<std::uint64_t> retried;      // attempts that ended in a retry
  // Calls whose handler was unavailable (SLUICE_UNAVAILABLE): retried without counting an
  // attempt. unavailable_since_ns: CLOCK_MONOTONIC of the first of the current run of
  // them; 0 once a call got an answer.
  std::atomic<std::uint64_t> unavailable;
  std::atomic<std::uint64_t> unavailable_since_ns;
  // Calls made by splitting a call of several records that failed as a whole
  // (bisect_batch_on_error): each half is one.
  std::atomic<std::uint64_t> split_calls;
  // Rounds in which records waited because the schema registry could not be reached
  // (not the handler's doing: kept apart from `unavailable`), and since when, as above.
  std::atomic<std::uint64_t> registry_unavailable;
  std::atomic<std::uint64_t> registry_unavailable_since_ns;
  Histogram handler_latency;               // per call
  // Per record, first attempt: from the consumer's enqueue (a clock read per batch it
  // takes from librdkafka) to the start of the handler call. The time sluice adds
  // before a handler, including the wait behind the records queued before it.
  Histogram queue_wait;
};
static_assert(sizeof(WorkerStats) == 7 * kCacheLine);

// One assigned partition, by the consumer's partition slot (the epoch table's index).
// The consumer writes it; the supervisor reads it for lag and the per-partition metrics.
// `assigned` is stored last with release order on assignment and cleared on revoke.
inline constexpr std::int64_t kNothingCommitted = -1001;  // librdkafka's RD_KAFKA_OFFSET_INVALID

struct PartitionStats {
  std::atomic<std::uint32_t> assigned;
  std::atomic<std::uint32_t> topic_index;
  std::atomic<std::int32_t> partition;
  std::atomic<std::uint32_t> stopped;  // 1: held by on_failure = "stop" (or a failure path that could not finish)
  // The group's committed offset as the broker has it: read when the partition is
  // assigned, then each commit the broker acknowledges. -1: not known yet;
  // kNothingCommitted: the broker has none for the group.
  std::atomic<std::int64_t> committed;
  std::atomic<std::int64_t> position;   // next offset to fetch; -1 unknown
  std::atomic<std::int64_t> low;        // log start; -1 unknown
  std::atomic<std::int64_t> high;       // high watermark; -1 unknown
};
static_assert(sizeof(PartitionStats) == 48);

// Counters the supervisor reads without asking the children (metrics).
struct Stats {
  std::atomic<std::uint64_t> consumed;     // records taken from Kafka
  std::atomic<std::uint64_t> dispatched;   // records written into rings
  std::atomic<std::uint64_t> handled_ok;   // completions with status ok
  std::atomic<std::uint64_t> failed;       // records that took the failure path
  std::atomic<std::uint64_t> skipped;      // failure path: skip
  std::atomic<std::uint64_t> stale;        // revoked before handling
  std::atomic<std::uint64_t> commits;      // successful offset commits
  std::atomic<std::uint64_t> commits_failed;
  std::atomic<std::uint64_t> assigns;  // rebalance callbacks that assigned partitions
  std::atomic<std::uint64_t> revokes;  // ... and that revoked (or lost) them
  std::atomic<std::uint64_t> paused;       // partition pauses for backpressure
  std::atomic<std::uint64_t> dead_lettered;  // failure path: dead letter acknowledged
  std::atomic<std::uint64_t> offset_resets;  // positions found outside the log
  std::atomic<std::uint64_t> offsets_skipped;  // records never handled because of them
  std::atomic<std::uint64_t> fetch_restarts;  // partitions librdkafka had stopped fetching, restarted
  std::atomic<std::uint64_t> produced;  // outbound records acknowledged by the broker
  std::atomic<std::uint64_t> filtered;  // records no filter admitted: completed without a handler
  std::atomic<std::uint64_t> in_flight;  // gauge: records in rings, not yet completed
  std::atomic<std::uint64_t> backlog;    // gauge: fetched, waiting for ring room
  std::atomic<std::uint64_t> stopped_partitions;  // gauge: assigned partitions held by a failure
  // Broker connections as librdkafka's statistics report them (each statistics_interval):
  // brokers whose connection is up, of those it learned from the cluster's metadata.
  std::atomic<std::uint64_t> brokers_up;
  std::atomic<std::uint64_t> brokers_known;
  std::atomic<std::uint64_t> brokers_seen_ns;  // CLOCK_MONOTONIC of that report; 0: none yet
  std::atomic<std::uint64_t> brokers_down_ns;  // since when none is up; 0: one is (or no report yet)
  std::atomic<std::uint64_t> last_commit_ms;   // wall clock of the last acknowledged commit; 0: none
  // The consumer group as the same reports tell it (codes of shm/group_states.hpp).
  std::atomic<std::uint64_t> group_state;
  std::atomic<std::uint64_t> group_join_state;
  std::atomic<std::uint64_t> group_unsettled_ns;  // since when not settled; 0: settled (or no report yet)
  Histogram commit_latency;              // commit request to the broker's answer
};
static_assert(sizeof(Stats) == 28 * 8 + sizeof(Histogram));

// What is fixed when the supervisor makes a lambda's segment: its sizes. Kept apart from
// the segment, in a sealed memfd (shm/segment.hpp) that nobody can change afterwards,
// followed by the lambda's resolved config as JSON. Every process computes the segment's
// layout from it, and never from bytes a worker could overwrite.
struct SealedLayout {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t workers;
  std::uint64_t ring_bytes;        // each forward ring, a power of two
  std::uint64_t reply_ring_bytes;  // each reply ring, a power of two
  std::uint32_t epoch_slots;
  std::uint32_t reserved;
  std::uint64_t config_len;  // bytes of JSON after this struct
};
static_assert(sizeof(SealedLayout) == 48);

// The first bytes of the segment: what the processes tell each other about themselves.
struct SegmentHeader {
  // Set by a consumer once it is subscribed (a worker's is WorkerSlot::reader_pid); the
  // supervisor zeroes it before it starts a consumer.
  std::atomic<std::int32_t> consumer_pid;
  std::int32_t reserved;
  // CLOCK_MONOTONIC of the consumer loop's last pass; the supervisor kills a consumer
  // whose loop stopped ([supervisor] consumer_stall_s).
  std::atomic<std::uint64_t> consumer_heartbeat_ns;
};
static_assert(offsetof(SegmentHeader, consumer_heartbeat_ns) == 8);
static_assert(sizeof(SegmentHeader) == 16);

inline constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

}  // namespace sluice::shm
