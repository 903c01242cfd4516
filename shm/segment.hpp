// A lambda's shared-memory segment: header, stats, epoch table, the lambda's resolved
// config, and one forward and one reply ring per worker. The supervisor creates it with
// its final size and layout before any child starts; children only attach to it.
#pragma once

#include <atomic>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shm/layout.hpp"

namespace sluice::shm {

struct SegmentSpec {
  std::string name;  // without leading slash, e.g. "sluice.default.orders"
  std::uint32_t workers = 1;
  std::uint64_t ring_bytes = 1 << 20;  // rounded up to a power of two
  std::uint64_t reply_ring_bytes = 1 << 16;
  std::uint32_t epoch_slots = 4096;
  std::string config_json;
};

// "sluice.<instance>.<lambda>"
std::string segment_name(std::string_view instance, std::string_view lambda);

class Segment {
 public:
  // Creates (replacing any leftover of the same name), reserves every page so a full
  // /dev/shm fails here rather than with SIGBUS later, lays everything out, and only
  // then stores the magic. Throws std::runtime_error with an actionable message.
  static Segment create(const SegmentSpec& spec);
  // Maps an existing segment; throws if it is missing, foreign or incomplete.
  static Segment attach(const std::string& name);
  // Unlinks a segment by name; true if one existed.
  static bool remove(const std::string& name);
  // Names of segments in /dev/shm that start with prefix.
  static std::vector<std::string> list(std::string_view prefix);

  Segment(Segment&&) noexcept = default;
  Segment& operator=(Segment&&) noexcept = default;

  const std::string& name() const { return name_; }
  std::byte* base() const { return static_cast<std::byte*>(region_.get_address()); }
  SegmentHeader& header() const { return *reinterpret_cast<SegmentHeader*>(base()); }
  Stats& stats() const { return *reinterpret_cast<Stats*>(base() + header().stats_offset); }
  std::uint32_t workers() const { return header().workers; }
  RingControl& ring(std::uint32_t worker) const { return rings()[2 * worker]; }
  RingControl& reply_ring(std::uint32_t worker) const { return rings()[2 * worker + 1]; }
  std::uint32_t epoch_slots() const { return header().epoch_slots; }
  std::atomic<std::uint32_t>& epoch(std::uint32_t slot) const {
    return reinterpret_cast<std::atomic<std::uint32_t>*>(base() + header().epochs_offset)[slot];
  }
  WorkerStats& worker_stats(std::uint32_t worker) const {
    return reinterpret_cast<WorkerStats*>(base() + header().worker_stats_offset)[worker];
  }
  PartitionStats& partition_stats(std::uint32_t slot) const {
    return reinterpret_cast<PartitionStats*>(base() + header().partitions_offset)[slot];
  }
  std::string_view config_json() const {
    return {reinterpret_cast<const char*>(base() + header().config_offset), header().config_len};
  }

 private:
  Segment(std::string name, boost::interprocess::shared_memory_object shm, boost::interprocess::mapped_region region)
      : name_(std::move(name)), shm_(std::move(shm)), region_(std::move(region)) {}
  RingControl* rings() const { return reinterpret_cast<RingControl*>(base() + header().rings_offset); }

  std::string name_;
  boost::interprocess::shared_memory_object shm_;
  boost::interprocess::mapped_region region_;
};

}  // namespace sluice::shm
