// The `http` handler: each event is a POST through one kept-alive libcurl handle per
// worker. With format "aws" a 2xx body may name failed records (batchItemFailures).
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "worker/curl_easy.hpp"
#include "worker/event_format.hpp"
#include "worker/handler.hpp"

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
  bool takes_batches() const override { return format_takes_batches(lambda_.format); }
  std::uint64_t retry_after_ms() const override { return retry_after_ms_; }

 protected:
  void handle(std::span<const sluice_record> records, std::span<sluice_result> results,
              std::vector<OutboundRecord>& produce) override;

 private:
  const config::Lambda& lambda_;
  EventSource source_;
  CurlHandle curl_;
  std::vector<std::string> static_headers_;  // [lambda.handler.headers], "Name: value"
  std::string response_;
  std::uint64_t retry_after_ms_ = 0;
  // Error texts handed out in results stay valid until the next handle() call.
  std::vector<std::string> errors_;
};

}  // namespace sluice::worker
