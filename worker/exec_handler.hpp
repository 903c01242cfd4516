// The `exec` handler: one long-lived process per worker, in any language, speaking the
// framed protocol of docs/exec-protocol.md over its stdin and stdout. Its start-up (up
// to its "ready" frame) is the lambda's lifespan start; SIGTERM at shutdown its end.
// Handler type `python` is the same handler with sluice's Python runner inside the
// worker (EmbeddedPython) instead of a child: same requests, same answers, one at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "worker/embedded_python.hpp"
#include "worker/event_format.hpp"
#include "worker/exec_child.hpp"
#include "worker/handler.hpp"

namespace sluice::worker {

class ExecHandler final : public Handler {
 public:
  // Starts the process and waits for its "ready" frame; throws std::runtime_error if it
  // cannot be executed or ends or stalls before it is ready (the worker then exits, and
  // the supervisor's restart backoff and intensity apply, as for a plugin whose init fails).
  ExecHandler(const config::Lambda& lambda, std::uint32_t slot);
  ~ExecHandler() override;
  bool takes_batches() const override { return format_takes_batches(lambda_.format); }
  std::uint64_t retry_after_ms() const override { return retry_after_ms_; }
  // A child that listed `pipeline` gets up to max_concurrency requests ahead of its answers.
  std::size_t window() const override { return pipeline_ ? lambda_.handler.max_concurrency : 1; }

 protected:
  void handle(std::span<const sluice_record> records, std::span<sluice_result> results,
              std::vector<OutboundRecord>& produce) override;
  void handle_each(std::span<const sluice_record> records, std::span<sluice_result> results,
                   std::vector<OutboundRecord>& produce, const std::atomic<bool>& stop, const Answered& answered) override;

 private:
  void start_child();
  // The request of one call over `records` (whose schemas are `schemas`): the event and
  // the protocol's headers, or nullopt after failing them (a header block over the
  // protocol's cap).
  std::optional<Event> request_for(std::span<const sluice_record> records, std::span<sluice_result> results,
                                   std::span<const RecordSchemas> schemas);
  // The outcome of a call that ended without an answer.
  void no_answer(ExecChild::Result why, std::span<sluice_result> results);
  // The outcome of a call from its answer.
  void read_answer(const Frame& response, std::span<const sluice_record> records, std::span<sluice_result> results,
                   std::vector<OutboundRecord>& produce);
  // The originals section of a request (docs/exec-protocol.md): a frame for each decoded
  // part, "Record: <index>" and "Part: key|value", the bytes it was decoded from as body.
  static std::string originals_section(std::span<const RecordSchemas> schemas);

  const config::Lambda& lambda_;
  EventSource source_;
  ExecChild child_;
  std::unique_ptr<EmbeddedPython> embedded_;  // type python: the runner in this process
  std::vector<std::string> errors_;  // texts handed out in results, valid until the next call
  std::uint64_t retry_after_ms_ = 0;
  // The running child's ready frame listed the `originals` feature: it can take them.
  bool originals_ = false;
  // ... and `body-only`: it reads no header, so none is built or sent.
  bool body_only_ = false;
  // ... and `pipeline`: it reads requests while answers are owed, and answers in order.
  bool pipeline_ = false;
  // ... and `coalesce`: it may hold answers back and write several at once, so when it
  // ends with more than one owed, its position is unknown.
  bool coalesce_ = false;
  // The next handle_each() calls its records in turn: the last window ended ambiguously.
  bool in_turn_ = false;
};

}  // namespace sluice::worker
