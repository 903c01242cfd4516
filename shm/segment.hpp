// A lambda's shared memory: header, stats, epoch table, and one forward and one reply
// ring per worker, in an anonymous memfd the supervisor creates before any child
// starts; its sizes and the lambda's resolved config in a second, sealed memfd. Children
// inherit both descriptors (spawn_child) and attach to them.
//
// Anonymous, not named in /dev/shm: a name can be taken first by another local user
// (blocking the lambda), collides between two daemons of the same instance, and outlives
// a crashed daemon. A descriptor cannot be guessed or opened by anyone else, and the
// memory goes when the last process holding it does.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "shm/layout.hpp"
#include "shm/unique_fd.hpp"

namespace sluice::shm {

struct SegmentSpec {
  std::string name;  // a label for messages and /proc, e.g. "sluice.default.orders"
  std::uint32_t workers = 1;
  std::uint64_t ring_bytes = 1 << 20;  // rounded up to a power of two
  std::uint64_t reply_ring_bytes = 1 << 16;
  std::uint32_t epoch_slots = 4096;
  std::string config_json;
};

// One ring as a process sees it: control block, data and size from the sealed layout.
struct RingView {
  RingControl* control;
  std::byte* data;
  std::uint64_t capacity;
};

// Byte offsets of each part, from the sealed sizes alone.
struct Offsets {
  std::uint64_t stats, epochs, worker_stats, worker_slots, partitions, rings, data, total;
};
Offsets compute_offsets(const SealedLayout& l);

class Segment {
 public:
  // Creates both memfds, reserves every page (a full memory fails here, not with SIGBUS
  // later), lays everything out and seals the sizes. Throws std::runtime_error with an
  // actionable message.
  static Segment create(const SegmentSpec& spec);
  // Maps the segment whose descriptors this process inherited, and takes them. Checks
  // that the layout descriptor is sealed and that the sizes agree; throws otherwise.
  static Segment attach(int fd, int sealed_fd, std::string label);

  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  const std::string& name() const { return name_; }
  int fd() const { return fd_.get(); }
  int sealed_fd() const { return sealed_fd_.get(); }
  std::byte* base() const { return base_; }
  SegmentHeader& header() const { return *reinterpret_cast<SegmentHeader*>(base_); }
  Stats& stats() const { return *reinterpret_cast<Stats*>(base_ + off_.stats); }
  std::uint32_t workers() const { return layout_.workers; }
  RingControl& ring(std::uint32_t worker) const { return rings()[2 * worker]; }
  RingControl& reply_ring(std::uint32_t worker) const { return rings()[2 * worker + 1]; }
  RingView forward(std::uint32_t worker) const;
  RingView reply(std::uint32_t worker) const;
  std::uint32_t epoch_slots() const { return layout_.epoch_slots; }
  std::atomic<std::uint32_t>& epoch(std::uint32_t slot) const {
    return reinterpret_cast<std::atomic<std::uint32_t>*>(base_ + off_.epochs)[slot];
  }
  WorkerStats& worker_stats(std::uint32_t worker) const {
    return reinterpret_cast<WorkerStats*>(base_ + off_.worker_stats)[worker];
  }
  WorkerSlot& worker_slot(std::uint32_t worker) const {
    return reinterpret_cast<WorkerSlot*>(base_ + off_.worker_slots)[worker];
  }
  PartitionStats& partition_stats(std::uint32_t slot) const {
    return reinterpret_cast<PartitionStats*>(base_ + off_.partitions)[slot];
  }
  std::string_view config_json() const { return config_; }

 private:
  Segment() = default;
  RingControl* rings() const { return reinterpret_cast<RingControl*>(base_ + off_.rings); }
  void unmap();

  std::string name_;
  UniqueFd fd_;
  UniqueFd sealed_fd_;
  SealedLayout layout_{};
  Offsets off_{};
  std::string config_;
  std::byte* base_ = nullptr;
};

}  // namespace sluice::shm
