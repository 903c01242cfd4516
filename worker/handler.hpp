// What a worker calls for each batch. Every handler kind (plugin, http, exec)
// sees records in the plugin ABI's shape, so there is one record representation.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "sluice/plugin.h"
#include "worker/outbound.hpp"
#include "worker/schema_ref.hpp"

namespace sluice::worker {

class Handler {
 public:
  virtual ~Handler() = default;
  // Calls handle(); afterwards failed_as_a_whole() says how it ended. `schemas` is empty,
  // or names each record's decoding schemas (what the event formats report).
  void call(std::span<const sluice_record> records, std::span<sluice_result> results,
            std::vector<OutboundRecord>& produce, std::span<const RecordSchemas> schemas = {}) {
    failed_whole_ = false;
    schemas_ = schemas;
    handle(records, results, produce);
  }
  // Whether the last call failed as a whole (set_all(): an exception, a non-2xx answer,
  // a timeout, an answer that cannot be read), so no record's own outcome is known.
  bool failed_as_a_whole() const { return failed_whole_; }
  // False when each call must carry exactly one record (an http body that is one value):
  // the worker then calls once per record, and timeout_ms applies to each call.
  virtual bool takes_batches() const { return true; }
  // After a call that ended SLUICE_UNAVAILABLE: how long the handler asked sluice to wait
  // before the next one (an http 429's Retry-After), 0 when it did not say.
  virtual std::uint64_t retry_after_ms() const { return 0; }

 protected:
  // results arrive pre-filled with {SLUICE_FAIL, "handler set no outcome"}; `produce`
  // arrives empty and takes the records the handler's answer asks to produce, which
  // belong to every record of this call that ends ok. Error texts in results need only
  // last until the next call (the worker copies them).
  virtual void handle(std::span<const sluice_record> records, std::span<sluice_result> results,
                      std::vector<OutboundRecord>& produce) = 0;

  // The records' schemas during handle(): empty when nothing was decoded.
  std::span<const RecordSchemas> schemas() const { return schemas_; }

  // The call failed as a whole: every result gets `outcome`, with `error` (kept in
  // `storage`, reserved by the caller so that the pointers handed out stay valid until
  // the next call).
  void set_all(std::span<sluice_result> results, sluice_outcome outcome, std::vector<std::string>& storage,
               std::string error) {
    storage.push_back(std::move(error));
    for (auto& r : results) r = {outcome, outcome == SLUICE_OK ? nullptr : storage.back().c_str()};
    failed_whole_ = outcome != SLUICE_OK;
  }

 private:
  bool failed_whole_ = false;
  std::span<const RecordSchemas> schemas_;
};

}  // namespace sluice::worker
