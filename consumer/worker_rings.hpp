// The consumer's side of its workers' rings: the forward ring it writes records into,
// the reply ring it reads, and its own list of what it wrote into each — because the
// worker can write anything into the ring's copy, only a record's status and attempts
// are ever read back from it, and where records begin and end comes from the list.
// Which ring a record goes to (ordering), what may go in now (a quarantined ring takes
// nothing until the supervisor reset it; a ring holding a suspect takes nothing else),
// publishing, and the walk that checks a worker's read position against what was written.
// What the records mean (offsets, partitions, outcomes) is the consumer's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "consumer/sent_log.hpp"
#include "shm/ring.hpp"
#include "shm/segment.hpp"

namespace sluice::consumer {

class WorkerRings {
 public:
  // What the consumer wrote into a forward ring.
  struct Sent {
    std::uint64_t start = 0;  // ring position of its header
    std::uint64_t end = 0;    // ring position after it
    std::uint64_t seq = 0;
    std::int64_t offset = 0;
    std::uint32_t epoch = 0;
    std::int32_t partition = 0;
    std::uint16_t topic_index = 0;
    std::uint8_t flags = 0;
    std::uint32_t key_len = 0;
    std::uint32_t value_len = 0;
    std::uint32_t headers_len = 0;
  };

  explicit WorkerRings(const shm::Segment& seg);

  std::uint32_t size() const { return static_cast<std::uint32_t>(writers_.size()); }
  // The ring for a record: by key (ordering "key", when it has one), else by partition
  // (consecutive partitions on consecutive rings), or ("none") the least loaded ring not
  // quarantined, starting after the last one chosen.
  std::uint32_t choose(config::Ordering ordering, std::int32_t partition, std::uint16_t topic_index, const void* key,
                       std::size_t key_len);
  // Whether ring r takes a record now.
  bool open(std::uint32_t r) const { return !quarantined_[r] && !solo_[r]; }
  bool quarantined(std::uint32_t r) const { return quarantined_[r]; }
  bool any_quarantined() const;
  std::size_t in_ring(std::uint32_t r) const { return sent_[r].size(); }
  // Room for a record of `size` bytes in ring r, or nullptr.
  shm::RecordHeader* try_reserve(std::uint32_t r, std::uint32_t size) { return writers_[r].try_reserve(size); }
  // The record try_reserve() returned is written: `s` (its position filled in here) is
  // what the walk compares with. `alone`: it is a suspect, nothing joins it until it is reaped.
  void commit(std::uint32_t r, Sent s, bool alone);
  // Makes what was committed visible to the workers; `wake` wakes a sleeping worker
  // (and publishes every ring, touched or not).
  void publish_all(bool wake);
  // The ring's copy of a record the consumer wrote (its header, status and attempts are
  // the worker's to change; lengths come from Sent).
  const shm::RecordHeader* at(std::uint32_t r, std::uint64_t pos) { return writers_[r].at(pos); }
  // Whether a record of ring r with this seq is still waiting for its outcome.
  bool waiting(std::uint32_t r, std::uint64_t seq) const;

  // Reads what the worker of ring r finished: first every reply it published
  // (on_reply(header, size) returns "" or why it is not a reply a worker writes), then
  // each record below its read position, oldest first (on_done(sent) returns false when
  // that record's outcome broke the protocol and the caller quarantined the ring).
  // Returns why the ring is to be quarantined, or "".
  template <typename OnReply, typename OnDone>
  std::string reap(std::uint32_t r, OnReply&& on_reply, OnDone&& on_done);

  // Stops using ring r, whose worker broke the protocol: nullopt if it already was.
  // Returns what was in it, for the caller to deliver again.
  struct Taken {
    std::vector<Sent> records;
    bool alone = false;  // a suspect was alone in it: the one that broke it
  };
  std::optional<Taken> quarantine(std::uint32_t r);
  // The supervisor reset ring r (its worker is dead, both rings empty): use it again.
  void reset(std::uint32_t r);

  // Whether every record in the rings is held by a worker that will not finish it soon:
  // its handler is unavailable, or (stopping) the worker has ended — the supervisor
  // starts no replacement once the lambda is stopping. False when nothing is in a ring,
  // or when fewer than `in_flight` are (the rest wait for the broker, not a worker).
  bool held_only_by_stalled_workers(bool stopping, std::size_t in_flight) const;

 private:
  const shm::Segment& seg_;
  std::vector<shm::RingWriter> writers_;
  std::vector<shm::RingReader> replies_;
  std::vector<SentLog<Sent>> sent_;
  std::vector<bool> quarantined_;
  std::vector<bool> solo_;     // holds a suspect delivered alone
  std::vector<bool> touched_;  // committed to since the last publish
  std::uint32_t next_ = 0;     // ordering "none": where the next search starts
};

template <typename OnReply, typename OnDone>
std::string WorkerRings::reap(std::uint32_t r, OnReply&& on_reply, OnDone&& on_done) {
  // Load the read position first: the worker publishes replies before it, so every
  // reply for records below it is readable now.
  shm::RingWriter& w = writers_[r];
  const std::uint64_t read = w.read_pos();
  // Replies are read even when the read position has not moved: a worker that writes
  // many (failures, outbound records) for one batch waits for room before it releases.
  shm::RingReader& rr = replies_[r];
  bool replies = false;
  while (const shm::RecordHeader* h = rr.peek()) {
    if (std::string why = on_reply(h, rr.current_size()); !why.empty()) {
      return "its reply ring holds a record no worker writes: " + why;
    }
    rr.advance();
    replies = true;
  }
  if (rr.corrupt()) return "its reply ring is corrupt: " + rr.corruption();
  if (replies) rr.release();
  if (read == w.released()) return {};
  if (read < w.released() || read > w.published()) {
    return "its read position " + std::to_string(read) + " is outside " + std::to_string(w.released()) + ".." +
           std::to_string(w.published());
  }
  // Walk what we wrote, not the ring: only statuses and attempts come from the worker.
  auto& sent = sent_[r];
  std::uint64_t at = w.released();
  while (!sent.empty() && sent.front().end <= read) {
    const Sent s = sent.front();
    sent.pop_front();
    at = s.end;
    if (!on_done(s)) return {};
  }
  if (sent.empty()) solo_[r] = false;
  // A read position is the end of a record, or the start of the next one after a wrap.
  if (read != at && (sent.empty() || sent.front().start != read)) {
    return "its read position " + std::to_string(read) + " is not between two records";
  }
  w.release_until(read);
  return {};
}

}  // namespace sluice::consumer
