// One header of a record librdkafka fetched: views into the message, valid while it lives.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice::consumer {

struct FetchedHeader {
  std::string_view name;
  const void* value;  // nullptr: a null value
  std::size_t size;
};

}  // namespace sluice::consumer
