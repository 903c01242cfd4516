#include "worker/http_handler.hpp"

#include <algorithm>
#include <stdexcept>
#include <string_view>

#include <spdlog/spdlog.h>

#include "shm/clock.hpp"

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
    : lambda_(lambda), source_(event_source_of(lambda)) {
  // libcurl before 7.89 fails every request after the first on a reused prior-knowledge
  // connection ("Error in the HTTP2 framing layer", curl issue 10634): every record
  // would fail. Refused at start rather than dead-lettering a topic.
  const curl_version_info_data* curl = curl_version_info(CURLVERSION_NOW);
  if (lambda.handler.http_version == config::HttpVersion::kHttp2 && lambda.handler.url.starts_with("http://") &&
      curl->version_num < kCurlReusingH2c) {
    throw std::runtime_error(std::string("http_version = \"2\" on an http:// url (h2c) needs libcurl 7.89 or later; this is ") +
                             curl->version + ", which cannot reuse such a connection. Use https:// (HTTP/2 by ALPN) or "
                             "http_version = \"1.1\"");
  }
  if (const std::string caveat = http2_caveat(lambda.handler.http_version, curl->version_num, curl->version);
      !caveat.empty()) {
    spdlog::warn("lambda {}: {}", lambda.name, caveat);
  }
  protocol_ = http_protocol(lambda.handler.http_version, lambda.handler.url, curl->version_num);
  // One connection per request in flight over HTTP/1.1, kept for the next ones; over
  // HTTP/2 they share one (libcurl multiplexes by default).
  const long limit = static_cast<long>(lambda.handler.max_concurrency);
  curl_multi_setopt(events_.multi(), CURLMOPT_MAX_HOST_CONNECTIONS, limit);
  curl_multi_setopt(events_.multi(), CURLMOPT_MAXCONNECTS, limit);
  for (const auto& [name, value] : lambda.handler.headers) static_headers_.push_back(name + ": " + value);
}

HttpHandler::~HttpHandler() {
  // Transfers still in the multi handle (a stop mid-flight) leave it before it is cleaned up.
  for (const auto& t : transfers_) curl_multi_remove_handle(events_.multi(), t->easy.get());
}

HttpHandler::Transfer& HttpHandler::idle() {
  if (!idle_.empty()) {
    Transfer* t = idle_.back();
    idle_.pop_back();
    return *t;
  }
  const config::Handler& h = lambda_.handler;
  auto t = std::make_unique<Transfer>();
  t->easy = new_curl_handle(static_cast<long>(h.timeout_ms), {h.ca_file, h.client_cert, h.client_key});
  CURL* c = t->easy.get();
  curl_easy_setopt(c, CURLOPT_URL, h.url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t->response);
  curl_easy_setopt(c, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, protocol_.curl_version);
  // A request waits for a connection that may turn out to multiplex (HTTP/2) rather than
  // open one of its own; over TLS the handshake says, on plain http:// only prior
  // knowledge does (otherwise it would wait for a whole response: HTTP/1.1 is known only
  // then, and an endpoint that answers once several requests arrived would never answer).
  if (protocol_.may_multiplex) curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
  return *transfers_.emplace_back(std::move(t));
}

void HttpHandler::start(Transfer& t, std::span<const sluice_record> records, std::span<const RecordSchemas> schemas) {
  Event event = make_event(lambda_.format, records, source_, schemas);
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
  t.headers = std::move(headers);
  t.body = std::move(event.body);  // POSTFIELDS is not copied: it lives as long as the transfer
  t.response.clear();
  CURL* c = t.easy.get();
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, t.headers.get());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, t.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.body.size()));
  t.started_ns = shm::monotonic_ns();
  curl_multi_add_handle(events_.multi(), c);
}

template <typename OnDone>
void HttpHandler::step(OnDone&& on_done) {
  const auto ended = [&] {
    bool any = false;
    while (CURLMsg* m = events_.next_done()) {
      if (m->msg != CURLMSG_DONE) continue;
      // The message is gone once its handle leaves the multi handle: read it first.
      CURL* c = m->easy_handle;
      const CURLcode rc = m->data.result;
      curl_multi_remove_handle(events_.multi(), c);
      Transfer* t = nullptr;
      curl_easy_getinfo(c, CURLINFO_PRIVATE, &t);
      any = true;
      on_done(*t, rc);
    }
    return any;
  };
  if (ended()) return;
  events_.act(100);
  ended();
}

void HttpHandler::conclude(Transfer& t, CURLcode rc, std::span<const sluice_record> records,
                           std::span<sluice_result> results, std::vector<OutboundRecord>& produce) {
  CURL* c = t.easy.get();
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  t.headers.reset();
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
    if (!read_ok_answer(lambda_.format, t.response, records, results, produce, why)) set_all(results, SLUICE_RETRY, errors_, "http: " + why);
    return;
  }
  if (outcome == SLUICE_UNAVAILABLE) {
    curl_off_t seconds = 0;  // curl reads both forms: seconds, or an HTTP date
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK && seconds > 0) {
      retry_after_ms_ = std::max(retry_after_ms_, static_cast<std::uint64_t>(seconds) * 1000);
    }
  }
  const std::string what = "http: status " + std::to_string(status) + (t.response.empty() ? "" : ": " + excerpt(t.response));
  set_all(results, outcome, errors_, what);
}

void HttpHandler::handle(std::span<const sluice_record> records, std::span<sluice_result> results,
                         std::vector<OutboundRecord>& produce) {
  errors_.clear();
  // At most one text per call; reserved so that pointers handed out stay valid.
  errors_.reserve(1);
  retry_after_ms_ = 0;
  Transfer& t = idle();
  start(t, records, schemas());
  bool done = false;
  while (!done) {
    step([&](Transfer& ended, CURLcode rc) {
      conclude(ended, rc, records, results, produce);
      idle_.push_back(&ended);
      done = true;
    });
  }
}

void HttpHandler::handle_each(std::span<const sluice_record> records, std::span<sluice_result> results,
                              std::vector<OutboundRecord>& produce, const std::atomic<bool>& stop, const Answered& answered) {
  retry_after_ms_ = 0;
  gates_.clear();
  ready_.clear();
  claimed_.clear();
  queued_.clear();
  // Each record once, as it joins the call: ready to start, or queued behind the record
  // of its gate that is ready or in flight. Nothing is scanned again, so a call may hold
  // many records of a busy partition while others' run.
  const auto track = [&](std::size_t from) {
    for (std::size_t i = from; i < records.size(); ++i) {
      const auto gate = gate_of(records[i]);
      gates_.push_back(gate);
      if (gate && !claimed_.insert(*gate).second) {
        queued_[*gate].push_back(i);
      } else {
        ready_.push_back(i);
      }
    }
  };
  track(0);
  std::size_t in_flight = 0;
  const std::size_t limit = window();
  const auto start_what_may = [&] {
    if (stop.load(std::memory_order_relaxed)) return;  // what is in flight ends; nothing new begins
    for (;;) {
      for (; !ready_.empty() && in_flight < limit; ready_.pop_front()) {
        const std::size_t i = ready_.front();
        begin(i);
        Transfer& t = idle();
        t.record = i;
        const auto all = schemas();
        start(t, records.subspan(i, 1), all.empty() ? all : all.subspan(i, 1));
        ++in_flight;
      }
      // Fewer records ready than slots to fill: ask for the next window's worth now, so
      // that the window does not empty between records the worker already holds, and so
      // that records of other partitions can run beside a busy one's.
      if (in_flight + ready_.size() >= limit) return;
      const std::size_t before = records.size();
      std::size_t dropped = 0;
      const std::size_t added = more(records, results, limit, dropped);
      if (dropped != 0) rebase(dropped);
      if (added == 0) return;
      track(before - dropped);
    }
  };
  for (start_what_may(); in_flight > 0; start_what_may()) {
    step([&](Transfer& t, CURLcode rc) {
      const std::size_t i = t.record;
      // Texts last until answered() returns (it copies them): one at a time.
      errors_.clear();
      conclude(t, rc, records.subspan(i, 1), results.subspan(i, 1), produce);
      idle_.push_back(&t);
      --in_flight;
      // A record to be called again keeps its gate claimed for the rest of this call,
      // so the records queued behind it wait (uncalled) and follow it in the next.
      const bool settled = answered(i, shm::monotonic_ns() - t.started_ns);
      if (const auto& gate = gates_[i]; gate && settled) {
        // The gate passes to the next record queued behind it, in record order.
        // A gate's entry goes with its last record: with ordering = "key" there are as
        // many gates as keys.
        const auto queue = queued_.find(*gate);
        if (queue == queued_.end() || queue->second.empty()) {
          claimed_.erase(*gate);
          if (queue != queued_.end()) queued_.erase(queue);
        } else {
          ready_.push_back(queue->second.front());
          queue->second.pop_front();
        }
      }
    });
  }
}

void HttpHandler::rebase(std::size_t dropped) {
  // The dropped records were all answered: none is ready, queued or in flight.
  gates_.erase(gates_.begin(), gates_.begin() + static_cast<std::ptrdiff_t>(dropped));
  for (auto& i : ready_) i -= dropped;
  for (auto& [gate, queue] : queued_) {
    for (auto& i : queue) i -= dropped;
  }
  for (const auto& t : transfers_) {
    if (t->record >= dropped) t->record -= dropped;  // an idle one's index means nothing
  }
}

std::optional<std::uint64_t> HttpHandler::gate_of(const sluice_record& r) const {
  const std::hash<std::string_view> hash;
  switch (lambda_.ordering) {
    case config::Ordering::kNone: return std::nullopt;
    case config::Ordering::kKey:
      // As the consumer routes them: a record without a key keeps its partition's order.
      if (r.key != nullptr) return hash({static_cast<const char*>(r.key), r.key_len});
      [[fallthrough]];
    case config::Ordering::kPartition:
      return hash({r.topic, r.topic_len}) * 31 + static_cast<std::uint32_t>(r.partition);
  }
  return std::nullopt;
}

}  // namespace sluice::worker
