// The `http` handler: each event is a POST. Requests go through one libcurl multi handle
// per worker, which keeps its connections alive and, over HTTP/2, multiplexes them onto
// one; up to max_concurrency requests are in flight, never two whose records must keep
// their order. With format "aws" a 2xx body may name failed records (batchItemFailures).
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.hpp"
#include "worker/curl_easy.hpp"
#include "worker/curl_events.hpp"
#include "worker/event_format.hpp"
#include "worker/handler.hpp"
#include "worker/http_protocol.hpp"

namespace sluice::worker {

// What an exchange means for its records:
//  * ok: 2xx;
//  * unavailable (retried without counting an attempt): the endpoint could not be
//    reached before the request was sent (DNS, refused, no route, TLS handshake), or it
//    said it is unavailable: 502, 503, 504 (a gateway or the service itself) and 429;
//  * retry (counts an attempt): a timeout or a connection lost after the request went
//    out, 500 and any other 5xx — the record may be what broke it;
//  * fail: any other status (4xx: the request itself is refused).
sluice_outcome http_outcome(CURLcode rc, long status);

class HttpHandler final : public Handler {
 public:
  explicit HttpHandler(const config::Lambda& lambda);
  ~HttpHandler() override;
  bool takes_batches() const override { return format_takes_batches(lambda_.format); }
  std::uint64_t retry_after_ms() const override { return retry_after_ms_; }
  std::size_t window() const override { return lambda_.handler.max_concurrency; }

 protected:
  void handle(std::span<const sluice_record> records, std::span<sluice_result> results,
              std::vector<OutboundRecord>& produce) override;
  void handle_each(std::span<const sluice_record> records, std::span<sluice_result> results,
                   std::vector<OutboundRecord>& produce, const std::atomic<bool>& stop, const Answered& answered) override;

 private:
  // One request: its handle (kept for the next one) and what must outlive the transfer.
  struct Transfer {
    CurlHandle easy;
    HeaderLines headers;
    std::string body;
    std::string response;
    std::size_t record = 0;  // handle_each(): the index of its record
    std::uint64_t started_ns = 0;
  };
  // An idle transfer (a new one when every one is busy).
  Transfer& idle();
  // Starts a POST of the event of `records` (whose schemas are `schemas`).
  void start(Transfer& t, std::span<const sluice_record> records, std::span<const RecordSchemas> schemas);
  // Calls on_done(transfer, result) for each request that ended; when none had, first
  // lets libcurl work, waiting (up to 100 ms) for one of them to make progress.
  template <typename OnDone>
  void step(OnDone&& on_done);
  // The records' outcomes from how their request ended.
  void conclude(Transfer& t, CURLcode rc, std::span<const sluice_record> records, std::span<sluice_result> results,
                std::vector<OutboundRecord>& produce);
  // handle_each(): the worker dropped the first `dropped` records (Handler::Grown).
  void rebase(std::size_t dropped);
  // What record r must not be in flight alongside (a hash of its partition, or of its key
  // with ordering = "key"); nothing with ordering = "none". A collision of two hashes
  // only keeps their records from running together.
  std::optional<std::uint64_t> gate_of(const sluice_record& r) const;

  const config::Lambda& lambda_;
  EventSource source_;
  HttpProtocol protocol_{};  // the same for every transfer: chosen once, at start
  CurlEvents events_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
  std::vector<Transfer*> idle_;
  // handle_each()'s per-record state, kept between calls so a round allocates little.
  std::vector<std::optional<std::uint64_t>> gates_;  // gate_of() each record
  std::deque<std::size_t> ready_;                     // records that may start, in turn
  std::unordered_set<std::uint64_t> claimed_;         // gates with a record ready or in flight
  std::unordered_map<std::uint64_t, std::deque<std::size_t>> queued_;  // the records behind each
  std::vector<std::string> static_headers_;  // [lambda.handler.headers], "Name: value"
  std::uint64_t retry_after_ms_ = 0;
  // Error texts handed out in results stay valid until the next call (handle()), or
  // until answered() returns (handle_each(), which clears them per answer).
  std::vector<std::string> errors_;
};

}  // namespace sluice::worker
