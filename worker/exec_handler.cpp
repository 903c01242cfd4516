#include "worker/exec_handler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <utility>

#include "process/exit_status.hpp"
#include "worker/batch_response.hpp"

namespace sluice::worker {
namespace {

// A handler's start-up may load a model or open connections: give it at least this long.
constexpr std::chrono::milliseconds kMinStartup{30'000};
// Lifespan end: time between SIGTERM and SIGKILL.
constexpr std::chrono::milliseconds kStopGrace{5'000};

std::map<std::string, std::string> child_env(const config::Lambda& lambda, std::uint32_t slot) {
  std::map<std::string, std::string> env = lambda.handler.env;
  env["SLUICE_LAMBDA"] = lambda.name;
  env["SLUICE_WORKER"] = std::to_string(slot);
  env["SLUICE_FORMAT"] = config::to_string(lambda.format);
  env["SLUICE_GROUP_ID"] = lambda.group_id;
  // Which of the requests written ahead may run together: a runner hosting an async app
  // overlaps them by the same rule the http handler keeps.
  env["SLUICE_ORDERING"] = config::to_string(lambda.ordering);
  // What this sluice understands, so that a runner only uses a feature whose rules the
  // worker keeps (a runner holding answers back for an older worker would get records
  // charged for a neighbour's crash).
  env["SLUICE_EXEC_FEATURES"] = "pipeline, originals, coalesce, body-only";
  return env;
}

// Whole seconds only: the protocol's Retry-After is a number, not an HTTP date. Anything
// else is ignored (the lambda's own backoff applies); the worker caps what it honours,
// so a huge number is only kept from overflowing here.
std::uint64_t retry_after_seconds(std::string_view v) {
  std::uint64_t s = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
  return ec == std::errc{} && end == v.data() + v.size() ? std::min<std::uint64_t>(s, 86'400) : 0;
}

// Whether a ready frame's `Features` list (names separated by commas or spaces) holds
// `name`. Features sluice does not know are ignored, so that a runner written for a later
// sluice still starts.
bool has_feature(const Frame& ready, std::string_view name) {
  std::string_view list = ready.header("Features").value_or("");
  while (!list.empty()) {
    const std::size_t start = list.find_first_not_of(", \t");
    if (start == std::string_view::npos) break;
    list.remove_prefix(start);
    const std::size_t end = std::min(list.find_first_of(", \t"), list.size());
    if (list.substr(0, end) == name) return true;
    list.remove_prefix(end);
  }
  return false;
}

}  // namespace

ExecHandler::ExecHandler(const config::Lambda& lambda, std::uint32_t slot)
    : lambda_(lambda), source_(event_source_of(lambda)), child_(lambda.handler.command, child_env(lambda, slot)) {
  if (lambda.handler.type != config::HandlerType::kPython) {
    start_child();
    return;
  }
  // The runner's environment is this process's: what a child would have been given.
  for (const auto& [name, value] : child_env(lambda, slot)) ::setenv(name.c_str(), value.c_str(), 1);
  embedded_ = std::make_unique<EmbeddedPython>(std::vector<std::string>{lambda.handler.path, lambda.handler.function});
  if (embedded_->ready().header("Status") != "ready") throw std::runtime_error("python handler: no \"Status: ready\"");
  originals_ = has_feature(embedded_->ready(), "originals");
  body_only_ = has_feature(embedded_->ready(), "body-only");
}

ExecHandler::~ExecHandler() { child_.stop(kStopGrace); }

void ExecHandler::start_child() {
  child_.start();
  const auto deadline =
      ExecChild::Clock::now() + std::max(kMinStartup, std::chrono::milliseconds(lambda_.handler.timeout_ms));
  Frame ready;
  const std::string what = "exec handler \"" + lambda_.handler.command.front() + "\"";
  switch (child_.exchange({}, deadline, ready)) {
    case ExecChild::Result::kOk:
      break;
    case ExecChild::Result::kTimeout:
      throw std::runtime_error(what + " sent no \"Status: ready\" frame within " +
                               std::to_string(std::max(kMinStartup.count(), std::int64_t{lambda_.handler.timeout_ms})) +
                               " ms (killed)");
    case ExecChild::Result::kEnded:
      throw std::runtime_error(process::describe_exit(what.c_str(), child_.exit_status()) + " before it was ready");
    case ExecChild::Result::kMalformed:
      throw std::runtime_error(what + " started with a malformed frame: " + child_.error());
  }
  if (ready.header("Status") != "ready") {
    child_.stop(std::chrono::milliseconds(0));
    throw std::runtime_error(what + " must first answer \"Status: ready\", not \"" +
                             std::string(ready.header("Status").value_or("")) + "\"");
  }
  originals_ = has_feature(ready, "originals");
  body_only_ = has_feature(ready, "body-only");
  pipeline_ = has_feature(ready, "pipeline");
  coalesce_ = pipeline_ && has_feature(ready, "coalesce");
}

std::string ExecHandler::originals_section(std::span<const RecordSchemas> all) {
  std::string out;
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (const bool key : {true, false}) {
      if (!(key ? all[i].key : all[i].value).decoded()) continue;
      out += encode_frame({{"Record", std::to_string(i)}, {"Part", key ? "key" : "value"}},
                          key ? all[i].key_original : all[i].value_original);
    }
  }
  return out;
}

std::optional<Event> ExecHandler::request_for(std::span<const sluice_record> records, std::span<sluice_result> results,
                                              std::span<const RecordSchemas> schemas) {
  // A runner calling f(event) never looks at a header: building them (a dozen strings
  // per record) was a few per cent of an in-worker Python function's time.
  if (body_only_) return Event{make_body(lambda_.format, records, source_, schemas), {}};
  Event event = make_event(lambda_.format, records, source_, schemas);
  std::uint32_t attempt = 0;
  for (const auto& r : records) attempt = std::max(attempt, r.attempt);
  event.headers.emplace_back("X-Sluice-Attempt", std::to_string(attempt));
  // A runner that asked for originals gets the bytes each decoded part came from after
  // the event, in the same body, so that neither a header block's cap nor a second read
  // protocol is involved; a runner that did not ask sees exactly what it always saw.
  if (originals_) {
    if (std::string section = originals_section(schemas); !section.empty()) {
      event.headers.emplace_back("X-Sluice-Originals", std::to_string(section.size()));
      event.body += section;
    }
  }
  // The protocol promises handlers a header block of at most 64 KiB, and a record with
  // thousands of Kafka headers would break that promise (20,000 made ~500 KB): such a
  // record fails here, with the reason, rather than reaching a handler that may trust it.
  const std::size_t header_bytes = header_block_size(event.headers);
  if (header_bytes > kMaxFrameHeaderBytes) {
    set_all(results, SLUICE_FAIL, errors_,
            "exec: the request's headers take " + std::to_string(header_bytes) + " bytes, more than the protocol's " +
                std::to_string(kMaxFrameHeaderBytes) + " (the record has " + std::to_string(records.front().header_count) +
                " Kafka headers; format = \"json\" carries them in the body)");
    return std::nullopt;
  }
  return event;
}

void ExecHandler::no_answer(ExecChild::Result why, std::span<sluice_result> results) {
  switch (why) {
    case ExecChild::Result::kOk:
      break;
    case ExecChild::Result::kTimeout:
      set_all(results, SLUICE_RETRY, errors_,
              "exec: handler timed out after " + std::to_string(lambda_.handler.timeout_ms) + " ms (killed)");
      break;
    case ExecChild::Result::kEnded:
      set_all(results, SLUICE_RETRY, errors_, process::describe_exit("exec: handler", child_.exit_status()));
      break;
    case ExecChild::Result::kMalformed:
      set_all(results, SLUICE_RETRY, errors_, "exec: malformed response (handler killed): " + child_.error());
      break;
  }
}

void ExecHandler::read_answer(const Frame& response, std::span<const sluice_record> records,
                              std::span<sluice_result> results, std::vector<OutboundRecord>& produce) {
  const std::string_view status = response.header("Status").value_or("");
  const std::string error(response.header("Error").value_or(""));
  if (status == "retry" || status == "fail") {
    set_all(results, status == "retry" ? SLUICE_RETRY : SLUICE_FAIL, errors_,
            error.empty() ? "exec: handler answered " + std::string(status) : error);
    return;
  }
  if (status == "unavailable") {
    // What the handler depends on is down, not the record's fault: retried without
    // counting attempts, as an http handler's 503 is.
    retry_after_ms_ = retry_after_seconds(response.header("Retry-After").value_or("")) * 1000;
    set_all(results, SLUICE_UNAVAILABLE, errors_, error.empty() ? "exec: handler answered unavailable" : error);
    return;
  }
  if (status != "ok") {
    set_all(results, SLUICE_RETRY, errors_, "exec: unknown status \"" + std::string(status.substr(0, 40)) + "\"");
    return;
  }
  std::string why;
  if (!read_ok_answer(lambda_.format, response.body, records, results, produce, why)) {
    set_all(results, SLUICE_RETRY, errors_, "exec: " + why);
  }
}

void ExecHandler::handle(std::span<const sluice_record> records, std::span<sluice_result> results,
                      std::vector<OutboundRecord>& produce) {
  errors_.clear();
  errors_.reserve(1);  // pointers into it are handed out
  retry_after_ms_ = 0;
  // A child that died in an earlier call is replaced here; that call's attempt counted.
  // Failing to replace it throws: the worker exits and the supervisor takes over.
  if (!embedded_ && !child_.running()) start_child();
  const auto request = request_for(records, results, schemas());
  if (!request) return;
  Frame response;
  if (embedded_) {
    // What the runner raised instead of answering (its own bug, a MemoryError) is a retry.
    if (std::string why; !embedded_->call(encode_header_block(request->headers), request->body, response, why)) {
      set_all(results, SLUICE_RETRY, errors_, why);
      return;
    }
    return read_answer(response, records, results, produce);
  }
  const auto deadline = ExecChild::Clock::now() + std::chrono::milliseconds(lambda_.handler.timeout_ms);
  if (const auto r = child_.exchange(encode_frame(request->headers, request->body), deadline, response);
      r != ExecChild::Result::kOk) {
    return no_answer(r, results);
  }
  read_answer(response, records, results, produce);
}

void ExecHandler::handle_each(std::span<const sluice_record> records, std::span<sluice_result> results,
                              std::vector<OutboundRecord>& produce, const std::atomic<bool>& stop, const Answered& answered) {
  if (embedded_) return Handler::handle_each(records, results, produce, stop, answered);
  if (!child_.running()) start_child();
  // A replacement that no longer lists the feature is called in turn; so are the records
  // a coalescing child left unanswered when it ended (below).
  if (!pipeline_ || std::exchange(in_turn_, false)) return Handler::handle_each(records, results, produce, stop, answered);
  errors_.clear();
  errors_.reserve(records.size());  // at most one text per record; pointers are handed out
  retry_after_ms_ = 0;
  const auto all = schemas();
  std::vector<std::string> requests;
  std::vector<std::size_t> record_of;  // the record each request carries
  requests.reserve(records.size());
  record_of.reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto request = request_for(records.subspan(i, 1), results.subspan(i, 1), all.empty() ? all : all.subspan(i, 1));
    if (!request) {
      begin(i);
      answered(i, 0);  // failed without reaching the handler
      continue;
    }
    requests.push_back(encode_frame(request->headers, request->body));
    record_of.push_back(i);
  }
  const std::vector<std::string_view> views(requests.begin(), requests.end());
  // The runner works through the requests in turn: one's time runs from the answer before.
  std::uint64_t last = shm::monotonic_ns();
  const auto took = [&last] {
    const std::uint64_t now = shm::monotonic_ns();
    return now - std::exchange(last, now);
  };
  std::size_t got = 0;
  const auto r = child_.pipeline(
      views, window(), std::chrono::milliseconds(lambda_.handler.timeout_ms), stop,
      [&](std::size_t j, Frame& response) {
        const std::size_t i = record_of[j];
        read_answer(response, records.subspan(i, 1), results.subspan(i, 1), produce);
        // A record to be called again (a retry, an outage): where an order must hold,
        // nothing more is written, so that only the requests already written ahead of
        // its answer (at most the window) are handled before its retry. The rest are
        // not begun and follow it, in order, in the worker's next pass.
        return answered(i, took()) || lambda_.ordering == config::Ordering::kNone;
      },
      got, [&](std::size_t j) { begin(record_of[j]); });
  if (r == ExecChild::Result::kEnded || r == ExecChild::Result::kTimeout) {
    if (coalesce_ && requests.size() - got > 1) {
      // A coalescing child may have finished requests whose answers it still held: which
      // one it ended on is not known. Nobody is charged; the unanswered records are sent
      // again one at a time (the next call is in turn), where the one that ends the
      // child is the only one in flight.
      spdlog::info("lambda {}: exec handler ended with {} answers owed; calling them again one at a time", lambda_.name,
                   requests.size() - got);
      in_turn_ = true;
      return;
    }
  }
  if (r != ExecChild::Result::kOk) {
    // The request it ended on is that record's attempt; the ones behind it never reached it.
    const std::size_t i = record_of[got];
    no_answer(r, results.subspan(i, 1));
    answered(i, took());
  }
}

}  // namespace sluice::worker
