// Kafka message headers as they travel inside a ring record: a flat sequence of
// [u32 name_len][u32 value_len or kNullValue][name bytes][value bytes], unaligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice::shm {

inline constexpr std::uint32_t kNullHeaderValue = 0xFFFFFFFFU;

inline constexpr std::size_t encoded_header_size(std::size_t name_len, std::size_t value_len) {
  return 8 + name_len + value_len;
}

// value == nullptr encodes a null header value. Returns the byte after the entry.
inline std::byte* encode_header(std::byte* out, std::string_view name, const void* value, std::size_t value_len) {
  const auto n = static_cast<std::uint32_t>(name.size());
  const std::uint32_t v = value == nullptr ? kNullHeaderValue : static_cast<std::uint32_t>(value_len);
  std::memcpy(out, &n, 4);
  std::memcpy(out + 4, &v, 4);
  std::memcpy(out + 8, name.data(), n);
  if (value != nullptr && value_len != 0) std::memcpy(out + 8 + n, value, value_len);
  return out + 8 + n + (value == nullptr ? 0 : value_len);
}

struct HeaderView {
  std::string_view name;
  const std::byte* value;  // nullptr for a null value
  std::uint32_t value_len;
};

// Calls fn(HeaderView) for each entry. Returns false if the encoding is malformed.
template <typename Fn>
bool for_each_header(const std::byte* p, std::size_t len, Fn&& fn) {
  const std::byte* end = p + len;
  while (p < end) {
    if (end - p < 8) return false;
    std::uint32_t n = 0;
    std::uint32_t v = 0;
    std::memcpy(&n, p, 4);
    std::memcpy(&v, p + 4, 4);
    const std::size_t vlen = v == kNullHeaderValue ? 0 : v;
    if (static_cast<std::size_t>(end - p) < 8 + std::size_t{n} + vlen) return false;
    fn(HeaderView{std::string_view(reinterpret_cast<const char*>(p + 8), n),
                  v == kNullHeaderValue ? nullptr : p + 8 + n, static_cast<std::uint32_t>(vlen)});
    p += 8 + n + vlen;
  }
  return true;
}

}  // namespace sluice::shm
