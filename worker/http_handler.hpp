// The `http` handler: each event is a POST through one kept-alive libcurl handle per
// worker. Status rules (DESIGN §7): 2xx ok, 429 / 5xx / timeouts / connection errors
// retry, other 4xx fail. With format "aws" a 2xx body may name failed records
// (batchItemFailures).
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "worker/event_format.hpp"
#include "worker/handler.hpp"

namespace sluice::worker {

class HttpHandler final : public Handler {
 public:
  explicit HttpHandler(const config::Lambda& lambda);
  void handle(std::span<const sluice_record> records, std::span<sluice_result> results,
              std::vector<OutboundRecord>& produce) override;
  bool takes_batches() const override { return format_takes_batches(lambda_.format); }

 private:
  struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
  };
  struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
  };

  const config::Lambda& lambda_;
  EventSource source_;
  std::unique_ptr<CURL, CurlDeleter> curl_;
  std::vector<std::string> static_headers_;  // [lambda.handler.headers], "Name: value"
  std::string response_;
  // Error texts handed out in results stay valid until the next handle() call.
  std::vector<std::string> errors_;
};

}  // namespace sluice::worker
