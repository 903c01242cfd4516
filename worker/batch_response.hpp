// AWS's partial batch response for Kafka: a handler answers
// {"batchItemFailures": [{"itemIdentifier": ...}]} to fail only the records it names.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <vector>

#include "config/config.hpp"
#include "sluice/plugin.h"
#include "worker/outbound.hpp"

namespace sluice::worker {

enum class BatchVerdict {
  kAllOk,    // no failures named (no body, not JSON, no or empty batchItemFailures)
  kPartial,  // the named records failed, the others completed
  kInvalid,  // an entry names no record of this batch: the whole batch failed
};

// Reads a 2xx response body of an `aws`-format invocation. With kPartial, the named
// records' results become {SLUICE_RETRY, error} and the others {SLUICE_OK}; with kAllOk
// every result is SLUICE_OK; with kInvalid the results are left alone and `why` says
// what was wrong. An identifier is "<topic>-<partition>-<offset>" or an object
// {"topic"?, "partition": <n or "<topic>-<n>">, "offset": <n>}.
BatchVerdict apply_batch_item_failures(std::string_view body, std::span<const sluice_record> records,
                                       std::span<sluice_result> results, const char* error, std::string& why);

// The body of a successful answer (http 2xx, exec "Status: ok"): every record ok except
// those an `aws` batchItemFailures names, and the records it asks to produce (appended
// to `produce`). Returns false, with `why`, when the answer is invalid: nothing is
// produced, the results are left alone, and the caller retries the call.
bool read_ok_answer(config::Format format, std::string_view body, std::span<const sluice_record> records,
                    std::span<sluice_result> results, std::vector<OutboundRecord>& produce, std::string& why);

}  // namespace sluice::worker
