#include "shm/trace_context.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

namespace sluice::shm {
namespace {

bool lower_hex(std::string_view s) {
  return std::ranges::all_of(s, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
bool all_zero(std::string_view s) {
  return std::ranges::all_of(s, [](char c) { return c == '0'; });
}

void append_hex(std::string& out, std::uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out += kHex[(v >> (4 * i)) & 15];
}

}  // namespace

bool valid_traceparent(std::string_view v) {
  // 2 + 1 + 32 + 1 + 16 + 1 + 2
  constexpr std::size_t kLength = 55;
  if (v.size() < kLength || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  const std::string_view version = v.substr(0, 2);
  const std::string_view trace_id = v.substr(3, 32);
  const std::string_view parent_id = v.substr(36, 16);
  const std::string_view flags = v.substr(53, 2);
  if (!lower_hex(version) || version == "ff" || !lower_hex(trace_id) || !lower_hex(parent_id) || !lower_hex(flags)) {
    return false;
  }
  if (all_zero(trace_id) || all_zero(parent_id)) return false;
  if (version == "00") return v.size() == kLength;
  return v.size() == kLength || v[kLength] == '-';  // a later version's extra fields
}

bool valid_tracestate(std::string_view v) {
  constexpr std::size_t kMax = 512;
  return v.size() <= kMax && std::ranges::all_of(v, [](char c) { return c >= 0x20 && c <= 0x7E; });
}

std::string start_traceparent() {
  // Ids need to be unique, not secret: a generator seeded with 128 bits from the kernel.
  thread_local std::mt19937_64 random = [] {
    std::random_device rd;
    std::seed_seq seed{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seed);
  }();
  std::string out = "00-";
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  std::uint64_t parent = 0;
  while (hi == 0 && lo == 0) {
    hi = random();
    lo = random();
  }
  while (parent == 0) parent = random();
  append_hex(out, hi, 16);
  append_hex(out, lo, 16);
  out += '-';
  append_hex(out, parent, 16);
  out += "-01";
  return out;
}

}  // namespace sluice::shm
