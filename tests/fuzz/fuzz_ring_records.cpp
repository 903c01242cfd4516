// A ring a worker could have written anything into, as the consumer reads its reply
// ring (shm/ring.hpp RingReader, read_fields; shm/headers_codec.hpp): every record
// taken must lie inside the ring, and nothing may be read outside it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "shm/headers_codec.hpp"
#include "shm/records.hpp"
#include "shm/ring.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kCapacity = 4096;
  if (size < 16) return 0;
  // 8 bytes of read position, 8 of write position, then the ring's bytes.
  sluice::shm::RingControl ctl{};
  std::uint64_t read = 0;
  std::uint64_t write = 0;
  std::memcpy(&read, data, 8);
  std::memcpy(&write, data + 8, 8);
  read %= 1 << 20;
  write %= 1 << 20;
  ctl.read_pos.store(read);
  ctl.write_pos.store(write);
  auto ring = std::make_unique<std::byte[]>(kCapacity);  // exactly the ring: ASan sees any byte past it
  std::memcpy(ring.get(), data + 16, std::min(size - 16, kCapacity));
  sluice::shm::RingReader reader(sluice::shm::RingView{&ctl, ring.get(), kCapacity});
  for (int n = 0; n < 64; ++n) {
    const sluice::shm::RecordHeader* h = reader.peek();
    if (h == nullptr) break;
    const auto* at = reinterpret_cast<const std::byte*>(h);
    if (at < ring.get() || at + reader.current_size() > ring.get() + kCapacity) __builtin_trap();
    if (const auto f = sluice::shm::read_fields(h, reader.current_size())) {
      const auto* payload = reinterpret_cast<const std::byte*>(h + 1);
      std::size_t total = 0;
      sluice::shm::for_each_header(payload + f->key_len + f->value_len, f->headers_len,
                                   [&](const sluice::shm::HeaderView& v) { total += v.name.size() + v.value_len; });
      (void)total;
    }
    // What the consumer makes of it as a reply: a decoded kind or an error, and every
    // view inside the record.
    const sluice::shm::Reply reply = sluice::shm::read_reply(h, reader.current_size());
    if (const auto* o = std::get_if<sluice::shm::OutboundReply>(&reply)) {
      const auto* end = at + reader.current_size();
      if (reinterpret_cast<const std::byte*>(o->topic.data() + o->topic.size()) > end) __builtin_trap();
      if (o->headers + o->headers_len > end) __builtin_trap();
      sluice::shm::for_each_header(o->headers, o->headers_len, [](const sluice::shm::HeaderView&) {});
    } else if (const auto* r = std::get_if<sluice::shm::ReasonReply>(&reply)) {
      if (reinterpret_cast<const std::byte*>(r->reason.data() + r->reason.size()) > at + reader.current_size()) __builtin_trap();
    }
    reader.advance();
  }
  return 0;
}
