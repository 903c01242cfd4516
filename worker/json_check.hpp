#pragma once

#include <string_view>

namespace sluice::worker {

// True when `s` is one JSON value nested at most kMaxValueJsonDepth deep, by exactly the
// rules of nesting_at_most() and one_json_value() (text_codec.hpp): what decides whether
// a record's value goes into an event as JSON or as text.
bool is_json_value(std::string_view s);

}  // namespace sluice::worker
