// worker/json_check.cpp against the rules it replaces: for any bytes, is_json_value()
// gives the verdict of nesting_at_most() and one_json_value() (nlohmann's parser). The
// fast path (simdjson) may only ever say yes where nlohmann does too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "worker/json_check.hpp"
#include "worker/text_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::worker;
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  const bool old = !s.empty() && nesting_at_most(s, kMaxValueJsonDepth) && one_json_value(s);
  if (is_json_value(s) != old) std::abort();
  return 0;
}
