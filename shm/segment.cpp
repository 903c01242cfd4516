#include "shm/segment.hpp"

#include <fcntl.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "shm/ring.hpp"

namespace sluice::shm {
namespace bip = boost::interprocess;

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

std::string segment_name(std::string_view instance, std::string_view lambda) {
  return "sluice." + std::string(instance) + "." + std::string(lambda);
}

Segment Segment::create(const SegmentSpec& spec) {
  if (spec.workers == 0) throw std::invalid_argument("segment needs at least one worker");
  const std::uint64_t ring_bytes = std::bit_ceil(std::max<std::uint64_t>(spec.ring_bytes, 4096));
  const std::uint64_t reply_bytes = std::bit_ceil(std::max<std::uint64_t>(spec.reply_ring_bytes, 4096));

  // Layout: header | stats | epochs | worker stats | partition stats | config json | ring controls | ring data areas.
  std::uint64_t off = kCacheLine * 2;
  const std::uint64_t stats_off = off;
  off = align_up(off + sizeof(Stats), kCacheLine);
  const std::uint64_t epochs_off = off;
  off = align_up(off + 4ULL * spec.epoch_slots, kCacheLine);
  const std::uint64_t worker_stats_off = off;
  off = align_up(off + sizeof(WorkerStats) * spec.workers, kCacheLine);
  const std::uint64_t partitions_off = off;
  off = align_up(off + sizeof(PartitionStats) * spec.epoch_slots, kCacheLine);
  const std::uint64_t config_off = off;
  off = align_up(off + spec.config_json.size() + 1, kCacheLine);
  const std::uint64_t rings_off = off;
  off = align_up(off + sizeof(RingControl) * 2 * spec.workers, 4096);
  const std::uint64_t data_off = off;
  const std::uint64_t total = data_off + spec.workers * (ring_bytes + reply_bytes);

  // The instance lock guarantees a same-named segment is a leftover of a crashed run.
  bip::shared_memory_object::remove(spec.name.c_str());
  bip::permissions perms;
  perms.set_permissions(0600);
  bip::shared_memory_object shm;
  try {
    shm = bip::shared_memory_object(bip::create_only, spec.name.c_str(), bip::read_write, perms);
  } catch (const bip::interprocess_exception& e) {
    throw std::runtime_error("cannot create shared memory segment /dev/shm/" + spec.name + ": " + e.what());
  }
  const int fd = shm.get_mapping_handle().handle;
  if (int err = posix_fallocate(fd, 0, static_cast<off_t>(total)); err != 0) {
    bip::shared_memory_object::remove(spec.name.c_str());
    throw std::runtime_error("cannot reserve " + std::to_string(total) + " bytes in /dev/shm for segment " +
                             spec.name + ": " + std::strerror(err) +
                             " (free space in /dev/shm, or lower workers/ring_bytes)");
  }
  bip::mapped_region region(shm, bip::read_write, 0, total);
  auto* base = static_cast<std::byte*>(region.get_address());
  std::memset(base, 0, data_off);  // pages are fresh zeroes already; controls must be

  auto& h = *reinterpret_cast<SegmentHeader*>(base);
  h.version = kSegmentVersion;
  h.workers = spec.workers;
  h.total_size = total;
  h.config_offset = config_off;
  h.config_len = spec.config_json.size();
  h.stats_offset = stats_off;
  h.epochs_offset = epochs_off;
  h.epoch_slots = spec.epoch_slots;
  h.worker_stats_offset = worker_stats_off;
  h.partitions_offset = partitions_off;
  h.rings_offset = rings_off;
  h.ring_bytes = ring_bytes;
  h.reply_ring_bytes = reply_bytes;
  std::memcpy(base + config_off, spec.config_json.data(), spec.config_json.size());
  auto* rings = reinterpret_cast<RingControl*>(base + rings_off);
  std::uint64_t d = data_off;
  for (std::uint32_t w = 0; w < spec.workers; ++w) {
    ring_init(rings[2 * w], ring_bytes, d);
    d += ring_bytes;
    ring_init(rings[2 * w + 1], reply_bytes, d);
    d += reply_bytes;
  }
  h.magic.store(kSegmentMagic, std::memory_order_release);
  return Segment(spec.name, std::move(shm), std::move(region));
}

Segment Segment::attach(const std::string& name) {
  bip::shared_memory_object shm;
  try {
    shm = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    throw std::runtime_error("cannot open shared memory segment /dev/shm/" + name + ": " + e.what());
  }
  bip::offset_t size = 0;
  if (!shm.get_size(size) || size < static_cast<bip::offset_t>(sizeof(SegmentHeader))) {
    throw std::runtime_error("shared memory segment " + name + " is too small to be a sluice segment");
  }
  bip::mapped_region region(shm, bip::read_write, 0, static_cast<std::size_t>(size));
  auto& h = *static_cast<SegmentHeader*>(region.get_address());
  if (h.magic.load(std::memory_order_acquire) != kSegmentMagic || h.version != kSegmentVersion ||
      h.total_size != static_cast<std::uint64_t>(size)) {
    throw std::runtime_error("shared memory segment " + name + " is not a complete sluice v" +
                             std::to_string(kSegmentVersion) + " segment");
  }
  return Segment(name, std::move(shm), std::move(region));
}

bool Segment::remove(const std::string& name) { return bip::shared_memory_object::remove(name.c_str()); }

std::vector<std::string> Segment::list(std::string_view prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    auto n = e.path().filename().string();
    if (n.starts_with(prefix)) out.push_back(std::move(n));
  }
  return out;
}

}  // namespace sluice::shm
