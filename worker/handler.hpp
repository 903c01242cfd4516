// What a worker calls for each batch. Every handler kind (plugin, later http and exec)
// sees records in the plugin ABI's shape, so there is one record representation.
#pragma once

#include <span>

#include "sluice/plugin.h"

namespace sluice::worker {

class Handler {
 public:
  virtual ~Handler() = default;
  // results arrive pre-filled with {SLUICE_FAIL, "handler set no outcome"}.
  virtual void handle(std::span<const sluice_record> records, std::span<sluice_result> results) = 0;
};

}  // namespace sluice::worker
