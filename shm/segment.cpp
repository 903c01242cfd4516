#include "shm/segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "shm/ring.hpp"
#include "shm/sealed.hpp"

namespace sluice::shm {

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

namespace {

std::runtime_error failure(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

std::uint64_t read_number(const std::string& path, const std::string& key = "") {
  std::ifstream in(path);
  std::string word;
  if (key.empty()) {
    in >> word;
  } else {
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with(key)) {
        std::istringstream(line.substr(key.size())) >> word;
        return word.empty() ? ~0ULL : std::stoull(word) * 1024;  // /proc/meminfo says kB
      }
    }
  }
  if (word.empty() || word == "max" || word.find_first_not_of("0123456789") != std::string::npos) return ~0ULL;
  return std::stoull(word);
}

// Memory a segment may take: what the kernel says is available, and no more than the
// room left under this process's cgroup limit (systemd's MemoryMax=). A memfd has no
// size limit of its own (a /dev/shm file had tmpfs's), and reserving more than there is
// would not fail cleanly: the OOM killer would pick a process instead.
std::uint64_t available_memory() {
  std::uint64_t avail = read_number("/proc/meminfo", "MemAvailable:");
  std::ifstream cg("/proc/self/cgroup");
  std::string line;
  while (std::getline(cg, line)) {
    std::string base, limit_file, usage_file;
    if (line.starts_with("0::")) {
      base = "/sys/fs/cgroup" + line.substr(3);
      limit_file = base + "/memory.max";
      usage_file = base + "/memory.current";
    } else if (const auto at = line.find(":memory:"); at != std::string::npos) {
      base = "/sys/fs/cgroup/memory" + line.substr(at + 8);
      limit_file = base + "/memory.limit_in_bytes";
      usage_file = base + "/memory.usage_in_bytes";
    } else {
      continue;
    }
    const std::uint64_t limit = read_number(limit_file);
    const std::uint64_t usage = read_number(usage_file);
    if (limit != ~0ULL && usage != ~0ULL) avail = std::min(avail, limit > usage ? limit - usage : 0);
  }
  return avail;
}

}  // namespace

Offsets compute_offsets(const SealedLayout& l) {
  Offsets o{};
  std::uint64_t off = kCacheLine * 2;
  o.stats = off;
  off = align_up(off + sizeof(Stats), kCacheLine);
  o.epochs = off;
  off = align_up(off + 4ULL * l.epoch_slots, kCacheLine);
  o.worker_stats = off;
  off = align_up(off + sizeof(WorkerStats) * l.workers, kCacheLine);
  o.worker_slots = off;
  off = align_up(off + sizeof(WorkerSlot) * l.workers, kCacheLine);
  o.partitions = off;
  off = align_up(off + sizeof(PartitionStats) * l.epoch_slots, kCacheLine);
  o.rings = off;
  off = align_up(off + sizeof(RingControl) * 2 * l.workers, 4096);
  o.data = off;
  o.total = o.data + l.workers * (l.ring_bytes + l.reply_ring_bytes);
  return o;
}

Segment Segment::create(const SegmentSpec& spec) {
  if (spec.workers == 0) throw std::invalid_argument("segment needs at least one worker");
  Segment s;
  s.name_ = spec.name;
  s.layout_.magic = kSegmentMagic;
  s.layout_.version = kSegmentVersion;
  s.layout_.workers = spec.workers;
  s.layout_.ring_bytes = std::bit_ceil(std::max<std::uint64_t>(spec.ring_bytes, 4096));
  s.layout_.reply_ring_bytes = std::bit_ceil(std::max<std::uint64_t>(spec.reply_ring_bytes, 4096));
  s.layout_.epoch_slots = spec.epoch_slots;
  s.layout_.config_len = spec.config_json.size();
  s.off_ = compute_offsets(s.layout_);
  s.config_ = spec.config_json;

  // The sizes and config, sealed: after this no process (a worker's plugin included) can
  // change a byte of them, nor resize them.
  std::string sealed(reinterpret_cast<const char*>(&s.layout_), sizeof s.layout_);
  sealed += spec.config_json;
  s.sealed_fd_ = make_sealed(spec.name + ".layout", sealed);

  if (const std::uint64_t avail = available_memory(); s.off_.total > avail) {
    throw std::runtime_error("cannot reserve " + std::to_string(s.off_.total) + " bytes of shared memory for " + spec.name +
                             ": only " + std::to_string(avail) + " are available (lower workers or ring_bytes, or raise "
                             "the unit's MemoryMax=)");
  }
  s.fd_.reset(memfd_create(spec.name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!s.fd_) throw failure("cannot create shared memory for " + spec.name);
  if (int err = posix_fallocate(s.fd_.get(), 0, static_cast<off_t>(s.off_.total)); err != 0) {
    throw std::runtime_error("cannot reserve " + std::to_string(s.off_.total) + " bytes of shared memory for " + spec.name +
                             ": " + std::strerror(err) + " (free memory, the unit's MemoryMax=, or lower workers/ring_bytes)");
  }
  // Its size is fixed too: a child that truncated it would make every other process
  // that touches the lost pages die of SIGBUS.
  if (fcntl(s.fd_.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
    throw failure("cannot seal the size of " + spec.name);
  }
  void* p = mmap(nullptr, s.off_.total, PROT_READ | PROT_WRITE, MAP_SHARED, s.fd_.get(), 0);
  if (p == MAP_FAILED) throw failure("cannot map " + spec.name);
  s.base_ = static_cast<std::byte*>(p);  // fresh pages are zeroes: every counter and position starts at 0
  return s;
}

Segment Segment::attach(int fd, int sealed_fd, std::string label) {
  Segment s;
  s.name_ = std::move(label);
  s.fd_.reset(fd);
  s.sealed_fd_.reset(sealed_fd);
  // Ours now; the programs our handlers exec must not inherit them.
  for (int f : {fd, sealed_fd}) {
    if (fcntl(f, F_SETFD, FD_CLOEXEC) != 0) throw failure("segment descriptor " + std::to_string(f) + " of " + s.name_);
  }
  if (!is_sealed(sealed_fd)) {
    throw std::runtime_error("descriptor " + std::to_string(sealed_fd) + " is not the sealed layout of a sluice segment");
  }
  struct stat st {};
  if (fstat(sealed_fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) < sizeof(SealedLayout) ||
      pread(sealed_fd, &s.layout_, sizeof s.layout_, 0) != static_cast<ssize_t>(sizeof s.layout_)) {
    throw std::runtime_error("cannot read the layout of segment " + s.name_);
  }
  if (s.layout_.magic != kSegmentMagic || s.layout_.version != kSegmentVersion ||
      static_cast<std::uint64_t>(st.st_size) != sizeof(SealedLayout) + s.layout_.config_len || s.layout_.workers == 0) {
    throw std::runtime_error("segment " + s.name_ + " is not a sluice v" + std::to_string(kSegmentVersion) + " segment");
  }
  s.config_.resize(s.layout_.config_len);
  if (pread(sealed_fd, s.config_.data(), s.config_.size(), sizeof(SealedLayout)) != static_cast<ssize_t>(s.config_.size())) {
    throw std::runtime_error("cannot read the config of segment " + s.name_);
  }
  s.off_ = compute_offsets(s.layout_);
  if (fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != s.off_.total) {
    throw std::runtime_error("shared memory of " + s.name_ + " is not the size its layout says");
  }
  void* p = mmap(nullptr, s.off_.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw failure("cannot map " + s.name_);
  s.base_ = static_cast<std::byte*>(p);
  return s;
}

Segment::Segment(Segment&& o) noexcept
    : name_(std::move(o.name_)),
      fd_(std::move(o.fd_)),
      sealed_fd_(std::move(o.sealed_fd_)),
      layout_(o.layout_),
      off_(o.off_),
      config_(std::move(o.config_)),
      base_(std::exchange(o.base_, nullptr)) {}

Segment& Segment::operator=(Segment&& o) noexcept {
  if (this != &o) {
    unmap();
    name_ = std::move(o.name_);
    fd_ = std::move(o.fd_);
    sealed_fd_ = std::move(o.sealed_fd_);
    layout_ = o.layout_;
    off_ = o.off_;
    config_ = std::move(o.config_);
    base_ = std::exchange(o.base_, nullptr);
  }
  return *this;
}

Segment::~Segment() { unmap(); }

void Segment::unmap() {
  if (base_ != nullptr) munmap(base_, off_.total);
  base_ = nullptr;
}

RingView Segment::forward(std::uint32_t worker) const {
  return {&ring(worker), base_ + off_.data + worker * (layout_.ring_bytes + layout_.reply_ring_bytes), layout_.ring_bytes};
}

RingView Segment::reply(std::uint32_t worker) const {
  return {&reply_ring(worker),
          base_ + off_.data + worker * (layout_.ring_bytes + layout_.reply_ring_bytes) + layout_.ring_bytes,
          layout_.reply_ring_bytes};
}

}  // namespace sluice::shm
