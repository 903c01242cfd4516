#include "worker/http_handler.hpp"

#include <algorithm>
#include <stdexcept>

#include "worker/batch_response.hpp"

namespace sluice::worker {
namespace {

std::size_t collect_body(char* data, std::size_t size, std::size_t n, void* out) {
  // Keep enough of a response to read batchItemFailures or report an error, no more.
  constexpr std::size_t kMaxResponse = 4 << 20;
  auto* s = static_cast<std::string*>(out);
  const std::size_t len = size * n;
  if (s->size() < kMaxResponse) s->append(data, std::min(len, kMaxResponse - s->size()));
  return len;
}

}  // namespace

sluice_outcome http_outcome(CURLcode rc, long status) {
  switch (rc) {
    case CURLE_OK: break;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return SLUICE_UNAVAILABLE;
    default:
      return SLUICE_RETRY;
  }
  if (status >= 200 && status < 300) return SLUICE_OK;
  if (status == 429 || status == 502 || status == 503 || status == 504) return SLUICE_UNAVAILABLE;
  return status >= 500 ? SLUICE_RETRY : SLUICE_FAIL;
}

HttpHandler::HttpHandler(const config::Lambda& lambda)
    : lambda_(lambda),
      source_(event_source_of(lambda)),
      curl_(new_curl_handle(static_cast<long>(lambda.handler.timeout_ms),
                            {lambda.handler.ca_file, lambda.handler.client_cert, lambda.handler.client_key})) {
  CURL* c = curl_.get();
  curl_easy_setopt(c, CURLOPT_URL, lambda.handler.url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response_);
  const config::Handler& h = lambda.handler;
  for (const auto& [name, value] : h.headers) static_headers_.push_back(name + ": " + value);
}

void HttpHandler::handle(std::span<const sluice_record> records, std::span<sluice_result> results,
                      std::vector<OutboundRecord>& produce) {
  errors_.clear();
  // At most one text per call; reserved so that pointers handed out stay valid.
  errors_.reserve(1);
  const Event event = make_event(lambda_.format, records, source_, schemas());
  HeaderLines headers;
  const auto add = [&](const std::string& line) { append_header(headers, line); };
  // curl drops a header with nothing after the colon; "Name;" sends it empty.
  for (const auto& [name, value] : event.headers) add(value.empty() ? name + ";" : name + ": " + value);
  for (const auto& line : static_headers_) add(line);
  // An event without a content type (a CloudEvent with no datacontenttype) must not get
  // curl's default for a POST body, application/x-www-form-urlencoded.
  if (std::ranges::none_of(event.headers, [](const auto& nv) { return nv.first == "Content-Type"; })) add("Content-Type:");
  // Which attempt this is (1 the first time; a batch says its highest), as exec and
  // plugin handlers are told: an idempotent handler may want to know it is seeing a
  // record again.
  std::uint32_t attempt = 1;
  for (const auto& r : records) attempt = std::max(attempt, r.attempt);
  add("X-Sluice-Attempt: " + std::to_string(attempt));
  add("Expect:");  // no 100-continue round trip for larger bodies
  CURL* c = curl_.get();
  response_.clear();
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, event.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(event.body.size()));
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  retry_after_ms_ = 0;
  long status = 0;
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  const sluice_outcome outcome = http_outcome(rc, status);
  if (rc != CURLE_OK) {
    set_all(results, outcome, errors_,
            std::string("http: ") + curl_easy_strerror(rc) + " (" + config::redact_url(lambda_.handler.url) + ")");
    return;
  }
  if (outcome == SLUICE_OK) {
    std::string why;
    if (!read_ok_answer(lambda_.format, response_, records, results, produce, why)) set_all(results, SLUICE_RETRY, errors_, "http: " + why);
    return;
  }
  if (outcome == SLUICE_UNAVAILABLE) {
    curl_off_t seconds = 0;  // curl reads both forms: seconds, or an HTTP date
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK && seconds > 0) {
      retry_after_ms_ = static_cast<std::uint64_t>(seconds) * 1000;
    }
  }
  const std::string what = "http: status " + std::to_string(status) + (response_.empty() ? "" : ": " + excerpt(response_));
  set_all(results, outcome, errors_, what);
}

}  // namespace sluice::worker
