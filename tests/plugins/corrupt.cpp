// What a buggy or hostile plugin can do to the shared memory it runs next to, for the
// recorder plugin's corrupt_seqs option. It finds the segment as any code in the worker
// could: the memfd mapping around a record in /proc/self/maps, its sealed layout among
// the open descriptors.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "shm/layout.hpp"
#include "shm/segment.hpp"
#include "sluice/plugin.h"

namespace {

using namespace sluice::shm;

struct Where {
  std::byte* base;
  SealedLayout layout;
  Offsets off;
};

std::optional<Where> find_segment(const void* inside) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto at = reinterpret_cast<std::uintptr_t>(inside);
  while (std::getline(maps, line)) {
    std::uintptr_t start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &start, &end) != 2 || at < start || at >= end) continue;
    const auto name_at = line.find("/memfd:");
    if (name_at == std::string::npos) return std::nullopt;
    std::string name = line.substr(name_at);
    name = name.substr(0, name.find(" (deleted)"));
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
      if (target.rfind(name + ".layout", 0) != 0) continue;
      Where w{reinterpret_cast<std::byte*>(start), {}, {}};
      if (pread(std::stoi(e.path().filename().string()), &w.layout, sizeof w.layout, 0) != sizeof w.layout) return std::nullopt;
      w.off = compute_offsets(w.layout);
      return w;
    }
  }
  return std::nullopt;
}

RecordHeader* header_of(const sluice_record* r) {
  const char* key = r->key != nullptr ? static_cast<const char*>(r->key)
                                      : static_cast<const char*>(r->value) - r->key_len;
  return reinterpret_cast<RecordHeader*>(const_cast<char*>(key) - sizeof(RecordHeader));
}

}  // namespace

// Returns 0 when the damage was done.
extern "C" int sluice_test_corrupt(const char* mode, std::uint32_t slot, const sluice_record* r) {
  RecordHeader* h = header_of(r);
  const std::string m = mode;
  if (m == "zero_size") {  // the consumer used to walk the ring by this and spin forever
    h->size = 0;
    return 0;
  }
  if (m == "huge_key_len") {  // the consumer used to read the key by this for the dead letter
    h->key_len = 0xFFFFFFF0U;
    return 0;
  }
  const auto w = find_segment(h);
  if (!w) return 1;
  auto* rings = reinterpret_cast<RingControl*>(w->base + w->off.rings);
  RingControl& forward = rings[2 * slot];
  RingControl& reply = rings[2 * slot + 1];
  const std::uint64_t per_worker = w->layout.ring_bytes + w->layout.reply_ring_bytes;
  std::byte* forward_data = w->base + w->off.data + slot * per_worker;
  std::byte* reply_data = forward_data + w->layout.ring_bytes;
  if (m == "read_pos") {  // a read position past anything written, held until the worker is killed
    for (;;) {
      forward.read_pos.store(1ULL << 60);
      usleep(10'000);
    }
  }
  if (m == "reply_garbage") {  // a reply of no kind the protocol has
    const std::uint64_t pos = reply.write_pos.load();
    auto* g = reinterpret_cast<RecordHeader*>(reply_data + (pos & (w->layout.reply_ring_bytes - 1)));
    g->size = sizeof(RecordHeader);
    g->kind = static_cast<RecordKind>(99);
    reply.write_pos.store(pos + sizeof(RecordHeader));
    return 0;
  }
  if (m == "next_size") {  // the next record in our own ring: our next read finds it broken
    auto* next = reinterpret_cast<std::byte*>(h) + h->size;
    if (next + sizeof(RecordHeader) > forward_data + w->layout.ring_bytes) return 1;
    reinterpret_cast<RecordHeader*>(next)->size = 3;
    return 0;
  }
  if (m == "scribble") {  // everything shared before the rings: stats, epochs, partitions
    std::memset(w->base + w->off.stats, 0xFF, w->off.rings - w->off.stats);
    return 0;
  }
  return 1;
}
