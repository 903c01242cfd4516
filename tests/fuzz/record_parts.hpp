// How the record fuzzers read their input: split at 0xFF bytes into value, key, then
// header names and values in turn (at most 12 parts), so one input describes a record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

inline std::vector<std::string> record_parts(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> parts(1);
  for (std::size_t i = 0; i < size && parts.size() < 12; ++i) {
    if (data[i] == 0xFF) {
      parts.emplace_back();
    } else {
      parts.back() += static_cast<char>(data[i]);
    }
  }
  return parts;
}
