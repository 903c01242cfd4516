#include "worker/json_check.hpp"

#include <simdjson.h>

#include "worker/text_codec.hpp"

namespace sluice::worker {
namespace {

// simdjson validates a value several times faster than nlohmann's lexer, which was a
// tenth of a python worker's time. It is used only to say yes: every text it accepts is
// one nlohmann accepts too (it is the stricter of the two: it refuses an integer beyond
// 64 bits, a leading byte-order mark, and objects at the last level of nesting), so a
// text it refuses is judged again by the old rules and no verdict changes.
// tests/fuzz/fuzz_json_check.cpp holds that claim against any bytes.
// Its buffers are kept for the next value and grow to fit the largest one, at more than
// ten bytes per byte of it (the tape alone is eight): a larger value is left to
// nlohmann, so that one huge record does not pin megabytes in every worker for good.
constexpr std::size_t kMaxFastCheckBytes = 256 << 10;

bool simdjson_accepts(std::string_view s) {
  if (s.size() > kMaxFastCheckBytes) return false;
  // One per thread (an http worker formats events on more than one).
  thread_local simdjson::dom::parser parser;
  thread_local const bool ready = parser.allocate(4096, kMaxValueJsonDepth) == simdjson::SUCCESS;
  simdjson::dom::element root;
  return ready && parser.parse(s.data(), s.size()).get(root) == simdjson::SUCCESS;
}

}  // namespace

bool is_json_value(std::string_view s) {
  if (s.empty()) return false;
  if (s.find('\0') == std::string_view::npos && simdjson_accepts(s)) return true;
  return nesting_at_most(s, kMaxValueJsonDepth) && one_json_value(s);
}

}  // namespace sluice::worker
