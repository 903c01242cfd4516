// The exec handler's frame reader (worker/exec_frame.cpp) against any bytes a handler
// program could write, fed in pieces as a pipe would deliver them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "worker/exec_frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the size of the pieces; the rest is the stream.
  const std::size_t piece = 1 + data[0] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  sluice::worker::FrameReader reader;
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    const auto state = reader.feed(stream.substr(at, piece));
    if (state == sluice::worker::FrameReader::State::kMalformed) {
      if (reader.error().empty()) __builtin_trap();  // a refusal always says why
      return 0;
    }
    if (state == sluice::worker::FrameReader::State::kComplete) {
      const auto frame = reader.take();
      if (frame.body.size() > sluice::worker::kMaxFrameBodyBytes) __builtin_trap();
      (void)frame.header("Status");
    }
  }
  return 0;
}
