// What a worker calls for each batch. Every handler kind (plugin, http, exec)
// sees records in the plugin ABI's shape, so there is one record representation.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "shm/clock.hpp"
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
  // How many one-record requests call_each() keeps outstanding; 1 (the default) means it
  // has nothing over calling each record in turn, and the worker does not use it.
  virtual std::size_t window() const { return 1; }

  // `answered(i, latency_ns)` runs as record i gets its outcome, with how long its call
  // took. False: the record will be called again (a retry, an outage), so a handler that
  // keeps an order begins no record that must follow it in this call.
  using Answered = std::function<bool(std::size_t, std::uint64_t)>;
  // `begun(i)` runs before record i first reaches the handler's code or its endpoint, so
  // that an attempt is counted for what was tried, not for a whole round taken at once.
  using Begun = std::function<void(std::size_t)>;
  // What `more` hands back: the records of the call so far, with their results and schemas
  // (the spans handed in before may have moved), less the first `dropped` of those handed
  // out before: records already answered, whose places the worker reuses. Every index
  // the handler holds then moves down by `dropped`.
  struct Grown {
    std::span<const sluice_record> records;
    std::span<sluice_result> results;
    std::span<const RecordSchemas> schemas;
    std::size_t dropped = 0;
  };
  // `more(n)` adds up to n records after the last (none when the worker has none ready, or
  // must not stream: see WorkerLoop). An empty function adds none.
  using More = std::function<Grown(std::size_t)>;

  // Each record as a call of its own, with up to window() of them outstanding (an exec
  // handler that listed `pipeline` answers them in order; an http handler's requests
  // complete in any order, records that must keep their order never outstanding together).
  // A record that is never answered was never seen by the handler (it ended on an earlier
  // one, or `stop` came first: once set, no further record is begun) and keeps no outcome.
  // `produce` holds, while `answered` runs, the records that record's answer asks to produce.
  // Every answered record was begun first.
  // A handler that keeps a window full across records may ask for more as its slots free
  // (more()), so that the call does not drain its window before the next starts; error
  // texts of handle_each() need only last until `answered` returns.
  void call_each(std::span<const sluice_record> records, std::span<sluice_result> results,
                 std::vector<OutboundRecord>& produce, std::span<const RecordSchemas> schemas,
                 const std::atomic<bool>& stop, const Begun& begun, const Answered& answered, const More& more = {}) {
    failed_whole_ = false;
    schemas_ = schemas;
    begun_ = &begun;
    more_ = &more;
    struct Reset {  // neither outlives the call, however it ends
      const Begun*& begun;
      const More*& more;
      ~Reset() { begun = nullptr, more = nullptr; }
    } reset{begun_, more_};
    handle_each(records, results, produce, stop, answered);
  }

 protected:
  // results arrive pre-filled with {SLUICE_FAIL, "handler set no outcome"}; `produce`
  // arrives empty and takes the records the handler's answer asks to produce, which
  // belong to every record of this call that ends ok. Error texts in results need only
  // last until the next call (the worker copies them).
  virtual void handle(std::span<const sluice_record> records, std::span<sluice_result> results,
                      std::vector<OutboundRecord>& produce) = 0;

  // The default: handle() per record, in turn.
  virtual void handle_each(std::span<const sluice_record> records, std::span<sluice_result> results,
                           std::vector<OutboundRecord>& produce, const std::atomic<bool>& stop, const Answered& answered) {
    const auto all = schemas_;
    for (std::size_t i = 0; i < records.size() && !stop.load(std::memory_order_relaxed); ++i) {
      schemas_ = all.empty() ? all : all.subspan(i, 1);
      begin(i);
      const std::uint64_t start = shm::monotonic_ns();
      handle(records.subspan(i, 1), results.subspan(i, 1), produce);
      answered(i, shm::monotonic_ns() - start);
    }
    schemas_ = all;
  }

  // handle_each(): record i is about to reach the handler (see Begun).
  void begin(std::size_t i) const {
    if (begun_ != nullptr && *begun_) (*begun_)(i);
  }

  // handle_each(): up to n records more for this call, appended to `records` and
  // `results` (re-pointed, as schemas() is); how many were added. `dropped`: how many
  // answered records left the front (see Grown), which the caller's indices must follow.
  std::size_t more(std::span<const sluice_record>& records, std::span<sluice_result>& results, std::size_t n,
                   std::size_t& dropped) {
    dropped = 0;
    if (more_ == nullptr || !*more_ || n == 0) return 0;
    const Grown g = (*more_)(n);
    dropped = g.dropped;
    const std::size_t added = g.records.size() + g.dropped - records.size();
    records = g.records;
    results = g.results;
    schemas_ = g.schemas;
    return added;
  }

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
  const Begun* begun_ = nullptr;  // during call_each()
  const More* more_ = nullptr;    // during call_each()
};

}  // namespace sluice::worker
