// A single-producer / single-consumer ring of variable-length records in shared memory.
// The two sides live in different processes; everything they share is in RingControl
// and the data area, addressed by offsets (the ring never stores a pointer).
//
// Protocol:
// * The writer fills records beyond write_pos privately, then publishes them all with a
//   release store of write_pos (batching many records into one publish and one wake).
// * The reader loads write_pos with acquire, handles records at its private cursor, and
//   stores read_pos with release only once their outcome is written. Records between
//   read_pos and write_pos are exactly the ones in flight: a replacement reader resumes
//   at read_pos and sees them again.
// * The writer may overwrite bytes below read_pos only after its owner has finished with
//   them (`release_until`), because the consumer process reads the outcomes the worker
//   wrote into those records before it reuses the space.
// * A record that would straddle the end is preceded by a wrap marker filling the tail.
//   Records are at most capacity/2 bytes, so a record always fits in an empty ring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "shm/layout.hpp"
#include "shm/segment.hpp"

namespace sluice::shm {

inline constexpr std::uint32_t record_size(std::uint64_t key_len, std::uint64_t value_len,
                                           std::uint64_t headers_len) {
  return static_cast<std::uint32_t>(align_up(sizeof(RecordHeader) + key_len + value_len + headers_len, 8));
}

inline std::byte* record_key(RecordHeader* h) { return reinterpret_cast<std::byte*>(h + 1); }
inline std::byte* record_value(RecordHeader* h) { return record_key(h) + h->key_len; }
inline std::byte* record_headers(RecordHeader* h) { return record_value(h) + h->value_len; }

// Largest record a ring of `capacity` bytes accepts.
inline constexpr std::uint64_t max_record_in_ring(std::uint64_t capacity) { return capacity / 2; }

// Sets both positions back to zero; only valid while neither side is running.
void ring_reset(RingControl& ctl);

class RingWriter {
 public:
  explicit RingWriter(const RingView& ring);

  // Room for a record of `size` bytes (record_size(), multiple of 8, at most
  // capacity/2)? Returns the header to fill, or nullptr if the ring is full up to the
  // released position. Nothing is visible to the reader until commit() and publish().
  RecordHeader* try_reserve(std::uint32_t size);
  void commit();   // the reserved record is complete
  // Makes committed records visible and, with `wake`, wakes the reader if it sleeps. A
  // publish without waking must be followed by one with: a sleeping reader waits for it.
  void publish(bool wake = true);

  std::uint64_t read_pos() const { return ctl_->read_pos.load(std::memory_order_acquire); }
  // The owner is done with records below pos: their bytes may be reused.
  void release_until(std::uint64_t pos) { released_ = pos; }
  // Visits each record the reader has finished and the owner has not yet released,
  // then releases them. Returns how many records were visited. It walks by the sizes in
  // the records, trusting the reader not to have changed them: for tests and benchmarks.
  // The consumer keeps its own list of what it wrote instead (workers are not trusted).
  template <typename Fn>
  std::size_t reap(Fn&& fn) {
    return reap_until(read_pos(), fn);
  }
  // Same, up to a read position the caller loaded earlier (so it could first read the
  // replies published before that position).
  template <typename Fn>
  std::size_t reap_until(std::uint64_t r, Fn&& fn) {
    std::size_t n = 0;
    for (std::uint64_t pos = released_; pos < r;) {
      auto* h = at(pos);
      if (h->kind == RecordKind::kRecord || h->kind == RecordKind::kReply) {
        fn(*h);
        ++n;
      }
      pos += h->size;
    }
    released_ = r;
    return n;
  }
  // Releases everything the reader finished without looking at it.
  void reclaim() { released_ = read_pos(); }
  // Blocks (spin, then futex) until `size` bytes may fit after a reap, or timeout.
  bool wait_for_space(std::uint32_t size, std::uint64_t timeout_ns);

  std::uint64_t write_cursor() const { return write_; }
  std::uint64_t published() const { return published_; }
  // Start of the record try_reserve() returned last.
  std::uint64_t reserved_at() const { return reserved_ - reserved_size_; }
  std::uint64_t released() const { return released_; }
  std::uint64_t capacity() const { return capacity_; }
  RecordHeader* at(std::uint64_t pos) { return reinterpret_cast<RecordHeader*>(data_ + (pos & mask_)); }

 private:
  bool fits(std::uint64_t needed, std::uint64_t released) const { return write_ + needed - released <= capacity_; }

  RingControl* ctl_;
  std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  std::uint64_t write_;      // private cursor: end of committed records
  std::uint32_t reserved_size_ = 0;
  std::uint64_t reserved_;   // end of the record being filled
  std::uint64_t published_;  // last value stored to write_pos
  bool pending_wake_ = false;  // published without checking for a sleeping reader
  std::uint64_t released_;   // owner is finished with everything below
};

class RingReader {
 public:
  explicit RingReader(const RingView& ring);

  // The record at the cursor, skipping wrap markers; nullptr when none is published.
  // Also nullptr when what the writer left there cannot be a record of this ring (a
  // position, size or length out of bounds, an unknown kind): corrupt() then says so,
  // and the reader stays stopped. The other process may be buggy or hostile, so every
  // value is read once and checked before it is used; the size peek() checked is the
  // one advance() moves by, whatever the record's bytes say by then.
  RecordHeader* peek();
  // Moves the private cursor past the record peek() returned.
  void advance();
  bool corrupt() const { return !corrupt_.empty(); }
  std::uint32_t current_size() const { return current_size_; }
  // What was wrong, for the log.
  const std::string& corruption() const { return corrupt_; }
  // Publishes the cursor as read_pos: the records before it are finished.
  void release() { release_to(cursor_); }
  // Publishes `pos` (a cursor value no later than the cursor) as read_pos: lets a reader
  // that has already taken records past `pos` give back only those it finished.
  void release_to(std::uint64_t pos);
  // Blocks (spin, then futex) until a record is published, or timeout. True if one is.
  bool wait_for_data(std::uint64_t timeout_ns);

  std::uint64_t cursor() const { return cursor_; }

 private:
  // Records what was wrong (the first time) and returns nullptr. Cold: never on the path
  // of a ring that keeps the protocol.
  [[gnu::cold, gnu::noinline]] RecordHeader* broken(const char* what, std::uint64_t value);

  RingControl* ctl_;
  std::byte* data_;
  std::uint64_t capacity_;
  std::uint64_t mask_;
  std::uint64_t cursor_;
  std::uint64_t cached_write_;
  std::uint64_t released_;
  std::uint32_t current_size_ = 0;  // of the record peek() returned
  std::string corrupt_;
};

// A record's fixed fields read once from shared memory, with the lengths checked against
// the size its ring reader checked: what a reader takes from a ring the other side can
// write. nullopt when the lengths do not fit in the record.
struct RecordFields {
  RecordKind kind;
  std::uint64_t seq;
  std::int64_t offset;
  std::int32_t partition;
  std::uint16_t topic_index;
  std::uint8_t flags;
  std::uint32_t key_len;
  std::uint32_t value_len;
  std::uint32_t headers_len;
  std::uint32_t attempts;
  std::uint32_t aux;
};
std::optional<RecordFields> read_fields(const RecordHeader* h, std::uint32_t size);

// Whether a record's lengths fit in the size its reader checked (the worker's per-record
// check of its forward ring, where read_fields' copy is not needed).
inline bool lengths_fit(const RecordHeader* h, std::uint32_t size) {
  return sizeof(RecordHeader) + std::uint64_t{h->key_len} + h->value_len + h->headers_len <= size;
}

}  // namespace sluice::shm
