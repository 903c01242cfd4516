#include "shm/ring.hpp"

#include <cassert>

#include "shm/futex.hpp"

namespace sluice::shm {
namespace {

// Busy-wait budget before sleeping. A futex round trip costs ~18 µs on these machines,
// a cross-core cache-line round trip ~0.6 µs: spin for a few of the latter first.
constexpr int kSpinIterations = 256;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Store-then-check on both sides (Dekker): the sleeper raises its flag then re-checks
// the position; the waker stores the position then checks the flag. All four accesses
// are seq_cst, so at least one side sees the other's store and no wake-up is lost.
// (seq_cst stores rather than fences: ThreadSanitizer does not model fences, and on
// x86 a seq_cst store costs the same one locked instruction as release + mfence.)
inline void wake_if_waiting(std::atomic<std::uint32_t>& waiting, std::atomic<std::uint32_t>& seq) {
  if (waiting.load(std::memory_order_seq_cst) != 0) {
    seq.fetch_add(1, std::memory_order_release);
    futex_wake(&seq, 1);
  }
}

template <typename Ready>
bool sleep_until(std::atomic<std::uint32_t>& waiting, std::atomic<std::uint32_t>& seq, std::uint64_t timeout_ns,
                 Ready ready) {
  for (int i = 0; i < kSpinIterations; ++i) {
    if (ready()) return true;
    cpu_relax();
  }
  const std::uint32_t s = seq.load(std::memory_order_acquire);
  waiting.store(1, std::memory_order_seq_cst);
  if (!ready()) futex_wait(&seq, s, timeout_ns);
  waiting.store(0, std::memory_order_relaxed);
  return ready();
}

}  // namespace

void ring_reset(RingControl& ctl) {
  ctl.write_pos.store(0, std::memory_order_release);
  ctl.read_pos.store(0, std::memory_order_release);
}

RingWriter::RingWriter(const RingView& ring)
    : ctl_(ring.control),
      data_(ring.data),
      capacity_(ring.capacity),
      mask_(ring.capacity - 1),
      write_(ctl_->write_pos.load(std::memory_order_acquire)),
      reserved_(write_),
      published_(write_),
      released_(ctl_->read_pos.load(std::memory_order_acquire)) {}

RecordHeader* RingWriter::try_reserve(std::uint32_t size) {
  assert(size % 8 == 0);
  if (size > max_record_in_ring(capacity_)) return nullptr;  // callers check max_record_in_ring first
  const std::uint64_t to_end = capacity_ - (write_ & mask_);
  const std::uint64_t needed = size <= to_end ? size : to_end + size;
  if (!fits(needed, released_)) return nullptr;
  if (size > to_end) {
    auto* marker = at(write_);
    marker->size = static_cast<std::uint32_t>(to_end);
    marker->kind = RecordKind::kWrap;
    write_ += to_end;
  }
  auto* h = at(write_);
  h->size = size;
  h->kind = RecordKind::kRecord;
  reserved_ = write_ + size;
  reserved_size_ = size;
  return h;
}

void RingWriter::commit() { write_ = reserved_; }

void RingWriter::publish(bool wake) {
  if (write_ != published_) {
    ctl_->write_pos.store(write_, std::memory_order_seq_cst);  // release, and ordered before the flag check
    published_ = write_;
    pending_wake_ = true;
  }
  if (wake && pending_wake_) {
    pending_wake_ = false;
    wake_if_waiting(ctl_->reader_waiting, ctl_->data_seq);
  }
}

bool RingWriter::wait_for_space(std::uint32_t size, std::uint64_t timeout_ns) {
  const std::uint64_t needed = 2ULL * size;  // conservative: a wrap may cost up to size more
  return sleep_until(ctl_->writer_waiting, ctl_->space_seq, timeout_ns,
                     [&] {
                       const std::uint64_t r = ctl_->read_pos.load(std::memory_order_seq_cst);
                       return fits(needed, r) || published_ == r;
                     });
}

RingReader::RingReader(const RingView& ring)
    : ctl_(ring.control),
      data_(ring.data),
      capacity_(ring.capacity),
      mask_(ring.capacity - 1),
      cursor_(ctl_->read_pos.load(std::memory_order_acquire)),
      cached_write_(cursor_),
      released_(cursor_) {}

RecordHeader* RingReader::broken(const char* what, std::uint64_t value) {
  if (corrupt_.empty()) {
    corrupt_ = std::string(what) + " " + std::to_string(value) + " at read position " + std::to_string(cursor_) +
               " (write position " + std::to_string(cached_write_) + ")";
  }
  return nullptr;
}

RecordHeader* RingReader::peek() {
  for (;;) {
    if (cursor_ == cached_write_) {
      if (!corrupt_.empty()) return nullptr;
      cached_write_ = ctl_->write_pos.load(std::memory_order_acquire);
      if (cursor_ == cached_write_) return nullptr;
      // The writer is never behind us, nor more than a ring ahead. Checked once per load:
      // between loads every record is checked against this value.
      if (cached_write_ < cursor_ || cached_write_ - cursor_ > capacity_ || (cursor_ & 7) != 0) {
        return broken("write position", cached_write_);
      }
    }
    auto* h = reinterpret_cast<RecordHeader*>(data_ + (cursor_ & mask_));
    const std::uint64_t to_end = capacity_ - (cursor_ & mask_);
    const std::uint32_t size = h->size;
    const RecordKind kind = h->kind;
    // One comparison for the usual case: a whole record of a known kind, 8-aligned, in
    // the tail of the ring and below the write position.
    if (size >= sizeof(RecordHeader) && size % 8 == 0 && size <= to_end && size <= cached_write_ - cursor_ &&
        kind >= RecordKind::kRecord && kind <= RecordKind::kAwait && kind != RecordKind::kWrap) {
      current_size_ = size;
      return h;
    }
    if (kind == RecordKind::kWrap) {
      // A wrap marker fills the tail exactly.
      if (size != to_end || size > cached_write_ - cursor_) return broken("wrap marker of size", size);
      cursor_ += size;
      continue;
    }
    if (kind < RecordKind::kRecord || kind > RecordKind::kAwait) return broken("record of kind", static_cast<std::uint32_t>(kind));
    return broken("record of size", size);
  }
}

void RingReader::advance() { cursor_ += current_size_; }

std::optional<RecordFields> read_fields(const RecordHeader* h, std::uint32_t size) {
  RecordFields f{h->kind,        h->seq,     h->offset,      h->partition,
                 h->topic_index, h->flags,   h->key_len,     h->value_len,
                 h->headers_len, h->attempts.load(std::memory_order_relaxed), h->aux};
  if (sizeof(RecordHeader) + std::uint64_t{f.key_len} + f.value_len + f.headers_len > size) return std::nullopt;
  return f;
}

void RingReader::release_to(std::uint64_t pos) {
  assert(pos >= released_ && pos <= cursor_);
  if (pos == released_) return;
  ctl_->read_pos.store(pos, std::memory_order_seq_cst);  // release, and ordered before the flag check
  released_ = pos;
  wake_if_waiting(ctl_->writer_waiting, ctl_->space_seq);
}

bool RingReader::wait_for_data(std::uint64_t timeout_ns) {
  return sleep_until(ctl_->reader_waiting, ctl_->data_seq, timeout_ns,
                     [&] { return ctl_->write_pos.load(std::memory_order_seq_cst) != cursor_; });
}

}  // namespace sluice::shm
