#include "worker/worker_loop.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "config/record_age.hpp"
#include "process/exit_status.hpp"
#include "shm/clock.hpp"
#include "shm/headers_codec.hpp"
#include "shm/records.hpp"
#include "shm/stream_ahead.hpp"
#include "worker/trace_headers.hpp"

namespace sluice::worker {
namespace {

// How long a blocked wait lasts before the loop looks at its stop flag again (a stop
// request also interrupts the futex wait: no SA_RESTART).
constexpr std::uint64_t kIdleWaitNs = 200'000'000;
// Longest a finished record waits for its release while the worker stays busy. Short
// next to any commit interval; long enough to cover hundreds of no-op records.
constexpr std::uint64_t kFlushNs = 50'000;
constexpr std::size_t kMaxErrorText = 1024;
// A round of one-record calls with several outstanding (a handler's window() > 1) takes
// this many windows of records. The round is the unit of release: its last requests run
// with the window emptying behind them, and the next round's all start together. Over
// one window per round that cost an http worker with 64 requests of 10 ms in flight a
// fifth of its throughput, over eight about a tenth (docs/benchmarks.md). More would hold
// finished records back from their commit for longer. It is safe because such a round
// charges each record its attempt only as its call begins (charged_).
constexpr std::size_t kWindowsPerRound = 8;
// A round of one-record calls whose handler asks for more as its window frees
// (Handler::more()) takes further fresh records from the ring while it runs, and drops
// those released from its front: the window then never drains between rounds, and
// finished records are released as they finish. From its first unsettled record on it
// holds at most shm::kStreamAhead records (or this many rounds' worth, if more): with
// ordering by partition, that is how far past a busy partition's run it looks for
// other partitions' records to start.
constexpr std::size_t kRoundsPerStream = 8;
// What a result holds before the handler sets it: a record it forgets is never handled.
constexpr sluice_result kNoOutcome{SLUICE_FAIL, "handler set no outcome"};

}  // namespace

WorkerLoop::WorkerLoop(const shm::Segment& seg, const config::Lambda& lambda, std::uint32_t slot, Handler& handler,
                       RecordDecoder* decoder, const std::atomic<bool>& stop)
    : seg_(seg),
      wstats_(seg.worker_stats(slot)),
      lambda_(lambda),
      handler_(handler),
      decoder_(decoder),
      stop_(stop),
      slot_(slot),
      supervision_(seg.worker_slot(slot)),
      in_(seg.forward(slot)),
      reply_(seg.reply(slot)),
      rng_(static_cast<unsigned>(getpid())) {
  done_ = in_.cursor();
  const bool one_by_one = !handler_.takes_batches() || lambda_.batch_size == 1;
  const std::size_t window = handler_.window();
  round_size_ = one_by_one ? std::max<std::size_t>(lambda_.batch_size, window > 1 ? window * kWindowsPerRound : 1)
                           : lambda_.batch_size;
  supervision_.reader_pid.store(getpid(), std::memory_order_relaxed);
  supervision_.invocation_start_ns.store(0, std::memory_order_relaxed);
  if (const int st = supervision_.last_exit_status.load(std::memory_order_acquire); st != 0) {
    const std::uint32_t timeout = supervision_.last_exit_timeout_ms.load(std::memory_order_relaxed);
    previous_exit_ = timeout != 0 ? "handler timed out after " + std::to_string(timeout) + " ms (worker killed)"
                                  : process::describe_exit("worker", st);
  }
}

void WorkerLoop::run() {
  std::uint64_t now = shm::monotonic_ns();
  while (!stop_.load(std::memory_order_relaxed)) {
    collect();
    if (!corrupt_.empty()) {
      // Something (our handler, or the one before) wrote over the ring: nothing in it
      // can be trusted now, not even where the next record starts. The consumer has
      // the records delivered again once we are gone (shm/control_channel.hpp).
      spdlog::error("lambda {}: worker {}'s ring is corrupt ({}); exiting", lambda_.name, slot_, corrupt_);
      return;
    }
    if (batch_.empty()) {
      flush();
      in_.wait_for_data(kIdleWaitNs);
      now = shm::monotonic_ns();
      continue;
    }
    ended_ns_ = 0;
    if (!process()) break;  // this batch stays unreleased: the next worker takes it again
    done_ = in_.cursor();
    // The last handler call's end is "now": a clock read costs 25-50 ns here, and the
    // loop would otherwise make one more per record.
    now = ended_ns_ != 0 ? ended_ns_ : shm::monotonic_ns();
    // Give finished records back when the ring has nothing more for us, or at least
    // every kFlushNs while it keeps us busy: one release (a locked store, and the cache
    // line the consumer reads) and one reap per run of records instead of per record.
    if (in_.peek() == nullptr || now - flushed_ns_ >= kFlushNs) {
      flush();
      flushed_ns_ = now;
    }
  }
  flush();
}

void WorkerLoop::flush() {
  reply_.publish();  // replies must be visible before the records are released
  in_.release_to(done_);
}

void WorkerLoop::collect() {
  batch_.clear();
  batch_ends_.clear();
  std::uint64_t deadline = 0;
  while (batch_.size() < round_size_) {
    shm::RecordHeader* h = in_.peek();
    if (h == nullptr && in_.corrupt()) {
      corrupt_ = in_.corruption();
      break;
    }
    if (h != nullptr && (h->kind != shm::RecordKind::kRecord || !shm::lengths_fit(h, in_.current_size()))) {
      corrupt_ = "a record whose lengths exceed its size";
      break;
    }
    if (h == nullptr) {
      if (batch_.empty() || lambda_.batch_window_ms == 0 || stop_.load(std::memory_order_relaxed)) break;
      const std::uint64_t now = shm::monotonic_ns();
      if (deadline == 0) deadline = now + std::uint64_t{lambda_.batch_window_ms} * 1'000'000ULL;
      if (now >= deadline) break;
      flush();  // nothing finished waits out the window
      in_.wait_for_data(deadline - now);
      continue;
    }
    batch_.push_back(h);
    in_.advance();
    batch_ends_.push_back(in_.cursor());
  }
}

bool WorkerLoop::process() {
  todo_.clear();
  ends_.clear();
  bool redelivered = false;
  for (std::size_t b = 0; b < batch_.size(); ++b) {
    shm::RecordHeader* h = batch_[b];
    const shm::Status status = h->status.load(std::memory_order_relaxed);
    if (revoked(*h)) {
      // Revoked after enqueue: another member owns it now; do not invoke the handler.
      h->status.store(shm::Status::kRevoked, std::memory_order_relaxed);
    } else if (status == shm::Status::kOk || status == shm::Status::kFailed) {
      // Finished by the worker before us, which died before releasing it. Its replies
      // were published before its status was stored, so nothing is owed.
    } else if (h->attempts.load(std::memory_order_relaxed) >= lambda_.max_attempts) {
      // Every attempt so far ended without an outcome: the handler took its worker down.
      fail(*h, previous_exit_.empty() ? "attempts exhausted without an outcome" : previous_exit_);
    } else {
      redelivered = redelivered || h->attempts.load(std::memory_order_relaxed) > 0;
      todo_.push_back(h);
      ends_.push_back(batch_ends_[b]);
    }
  }
  if (!redelivered || todo_.size() <= 1) return run_todo(/*stream=*/!redelivered);
  // A redelivery after a worker died: one record per call, so that the record that
  // took the worker down uses up its own attempts, not its batch-mates' (AWS bisects a
  // failing batch for the same reason); such a round takes nothing more while it runs
  // (run_todo()'s stream). Up to the last record that was tried: the ones
  // after it never reached a handler (attempts are charged as calls begin), and run
  // together as usual once the others are done, in ring order so a partition keeps its.
  std::size_t tried = todo_.size();
  while (tried > 0 && todo_[tried - 1]->attempts.load(std::memory_order_relaxed) == 0) --tried;
  suspects_.assign(todo_.begin(), todo_.end());
  for (std::size_t i = 0; i < tried; ++i) {
    todo_.assign(1, suspects_[i]);
    if (!run_todo()) return false;
  }
  todo_.assign(suspects_.begin() + static_cast<std::ptrdiff_t>(tried), suspects_.end());
  return todo_.empty() || run_todo();
}

bool WorkerLoop::run_todo(bool stream) {
  one_per_call_ = false;
  // Only the first pass streams: retries wait out their backoff, as a round.
  streaming_ = stream && decoder_ == nullptr;
  released_ = 0;
  while (!todo_.empty()) {
    decode_todo();
    charged_.assign(todo_.size(), 0);  // each is charged as its call begins (invoke())
    finished_.assign(todo_.size(), 0);
    records_.clear();
    headers_.clear();
    ranges_.clear();
    for (std::size_t i = 0; i < todo_.size(); ++i) add_record(i);
    results_.assign(todo_.size(), kNoOutcome);
    invoke();
    streaming_ = false;

    next_.clear();
    std::uint32_t max_attempt = 0;
    std::size_t unavailable = 0;
    std::size_t not_called = 0;
    std::string unavailable_why;
    for (std::size_t i = 0; i < todo_.size(); ++i) {
      // Settled as it was answered, and perhaps released since: not to be touched.
      if (finished_[i] != 0) continue;
      shm::RecordHeader& h = *todo_[i];
      const sluice_result& r = results_[i];
      if (called_[i] == 0) {
        // Never tried (its handler ended on another record, or a stop came), so its
        // attempt, if one was charged, is given back: one poison record must not use up
        // its window-mates'.
        if (charged_[i] != 0) give_back(h);
        next_.push_back(&h);
        ++not_called;
        continue;
      }
      if (settle(i)) continue;
      if (r.outcome == SLUICE_UNAVAILABLE) {
        // Not the record's doing: the attempt is given back, and it is called again for
        // as long as the outage lasts (or until max_record_age_s, if set, says it is too old).
        give_back(h);
        next_.push_back(&h);
        ++unavailable;
        if (unavailable_why.empty()) unavailable_why = r.error != nullptr ? r.error : "handler unavailable";
      } else {  // to be retried
        next_.push_back(&h);
        max_attempt = std::max(max_attempt, h.attempts.load(std::memory_order_relaxed));
      }
    }
    std::size_t waiting = 0;
    for (shm::RecordHeader* h : waiting_) {  // their decoding waits for the registry
      if (too_old(*h)) {
        fail(*h, waiting_why_ + "; and the record is older than max_record_age_s (" +
                     std::to_string(lambda_.max_record_age_s) + " s)");
        continue;
      }
      next_.push_back(h);
      ++waiting;
    }
    shm::bump(wstats_.retried, static_cast<std::uint64_t>(next_.size() - unavailable - waiting - not_called));
    if (unavailable == 0 && unavailable_rounds_ != 0) available_again();
    if (waiting_.empty() && registry_rounds_ != 0) registry_again();
    todo_.swap(next_);
    if (todo_.empty()) continue;
    if (todo_.size() == not_called) {
      // Only records never tried: nothing to back off from, unless a stop left them.
      if (stop_.load(std::memory_order_relaxed)) return false;
      continue;
    }
    if (unavailable != 0) {
      shm::bump(wstats_.unavailable);
      if (!wait_unavailable(unavailable_why)) return false;
    } else if (waiting != 0) {
      if (!wait_for_registry()) return false;
    } else if (!backoff(max_attempt)) {
      return false;
    }
  }
  return true;
}

bool WorkerLoop::is_final(std::size_t i) const {
  const shm::RecordHeader& h = *todo_[i];
  switch (results_[i].outcome) {
    case SLUICE_OK: return true;
    case SLUICE_UNAVAILABLE: return too_old(h);
    case SLUICE_RETRY: return h.attempts.load(std::memory_order_relaxed) >= lambda_.max_attempts;
    default: return true;
  }
}

bool WorkerLoop::settle(std::size_t i) {
  if (!is_final(i)) return false;
  shm::RecordHeader& h = *todo_[i];
  const sluice_result& r = results_[i];
  const std::string error = r.error != nullptr ? std::string(r.error) : "";
  if (r.outcome == SLUICE_OK) {
    h.status.store(shm::Status::kOk, std::memory_order_relaxed);
  } else if (r.outcome == SLUICE_UNAVAILABLE) {
    fail(h, (error.empty() ? std::string("handler unavailable") : error) + "; and the record is older than max_record_age_s (" +
                std::to_string(lambda_.max_record_age_s) + " s)");
  } else {
    fail(h, error.empty() ? "handler failed" : error);
  }
  finished_[i] = 1;
  return true;
}

void WorkerLoop::add_record(std::size_t i) {
  shm::RecordHeader* h = todo_[i];
  const sluice_header* was = headers_.data();
  const std::size_t first = headers_.size();
  shm::for_each_header(shm::record_headers(h), h->headers_len, [&](const shm::HeaderView& v) {
    headers_.push_back(sluice_header{v.name.data(), v.name.size(), v.value, v.value_len});
  });
  if (headers_.data() != was) {
    // headers_ moved: the records before point into it by range.
    for (std::size_t j = 0; j < records_.size(); ++j) {
      if (ranges_[j].second != 0) records_[j].headers = headers_.data() + ranges_[j].first;
    }
  }
  ranges_.emplace_back(first, headers_.size() - first);
  // The attempt this call is, whether it was charged already (decode_todo()) or will be
  // as the call begins.
  const std::uint32_t attempt = h->attempts.load(std::memory_order_relaxed) + (charged_[i] != 0 ? 0 : 1);
  const auto& topics = lambda_.topics;
  const std::string& topic = h->topic_index < topics.size() ? topics[h->topic_index] : topics.front();
  records_.push_back(sluice_record{
      topic.c_str(), topic.size(), h->partition, h->offset, h->timestamp_ms, h->timestamp_type,
      (h->flags & shm::kFlagKeyNull) != 0 ? nullptr : shm::record_key(h), h->key_len,
      (h->flags & shm::kFlagValueNull) != 0 ? nullptr : shm::record_value(h), h->value_len,
      ranges_[i].second == 0 ? nullptr : headers_.data() + ranges_[i].first, ranges_[i].second, attempt});
  if (i < decoded_for_.size()) {
    sluice_record& r = records_.back();
    if (const std::string* k = decoded_for_[i].key) r.key = k->data(), r.key_len = k->size();
    if (const std::string* v = decoded_for_[i].value) r.value = v->data(), r.value_len = v->size();
  }
}

void WorkerLoop::compact() {
  // Amortised: only once the released records are a round's worth and half of them all.
  if (released_ < round_size_ || released_ * 2 < todo_.size()) return;
  const auto n = static_cast<std::ptrdiff_t>(released_);
  const auto drop = [n](auto& v) { v.erase(v.begin(), v.begin() + n); };
  const std::size_t cut = released_ < ranges_.size() ? ranges_[released_].first : headers_.size();
  drop(todo_), drop(ends_), drop(charged_), drop(finished_), drop(called_), drop(results_), drop(records_), drop(ranges_);
  headers_.erase(headers_.begin(), headers_.begin() + static_cast<std::ptrdiff_t>(cut));
  for (std::size_t j = 0; j < ranges_.size(); ++j) {
    ranges_[j].first -= cut;
    if (ranges_[j].second != 0) records_[j].headers = headers_.data() + ranges_[j].first;
  }
  // The error texts of the records dropped are no longer needed (settle() copied them),
  // and a stream may run for as long as the ring has records: keep only the others'.
  std::deque<std::string> kept;
  for (sluice_result& r : results_) {
    if (r.error != nullptr && r.error != kNoOutcome.error) r.error = kept.emplace_back(r.error).c_str();
  }
  call_errors_.swap(kept);
  dropped_ += released_;
  released_ = 0;
}

Handler::Grown WorkerLoop::pull(std::size_t n) {
  dropped_ = 0;
  if (streaming_) compact();
  const std::size_t cap = std::max(round_size_ * kRoundsPerStream, shm::kStreamAhead);
  for (; n > 0 && streaming_ && todo_.size() - released_ < cap && !stop_.load(std::memory_order_relaxed); --n) {
    shm::RecordHeader* h = in_.peek();
    // Only a fresh record of a partition still ours joins a running round; anything else
    // (the end of what is there, a record to skip or to fail, a redelivery, a ring that
    // looks corrupt) waits for collect() and process(), after this round.
    if (h == nullptr || h->kind != shm::RecordKind::kRecord || !shm::lengths_fit(h, in_.current_size()) ||
        h->status.load(std::memory_order_relaxed) != shm::Status::kPending ||
        h->attempts.load(std::memory_order_relaxed) != 0 ||
        revoked(*h)) {
      break;
    }
    in_.advance();
    const std::size_t i = todo_.size();
    todo_.push_back(h);
    ends_.push_back(in_.cursor());
    charged_.push_back(0);
    finished_.push_back(0);
    called_.push_back(0);
    results_.push_back(kNoOutcome);
    add_record(i);
    observe_queue_wait(i, shm::monotonic_ns());
  }
  return {records_, results_, schemas_, dropped_};
}

void WorkerLoop::release_settled(std::uint64_t now) {
  const std::size_t was = released_;
  while (released_ < finished_.size() && finished_[released_] != 0) ++released_;
  if (released_ == was) return;
  done_ = ends_[released_ - 1];
  // At once, not every kFlushNs: the handler may next wait a long time for a slow
  // request, and no later answer would come to flush what settled now. A release per
  // answer costs little next to a request.
  flush();
  flushed_ns_ = now;
}

void WorkerLoop::charge(shm::RecordHeader& h) {
  h.attempts.store(h.attempts.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void WorkerLoop::charge_once(std::size_t j) {
  if (charged_[j] != 0) return;
  charge(*todo_[j]);
  charged_[j] = 1;
}

void WorkerLoop::give_back(shm::RecordHeader& h) {
  h.attempts.store(h.attempts.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void WorkerLoop::decode_todo() {
  waiting_.clear();
  decoded_for_.clear();
  decoded_.clear();
  schemas_.clear();
  if (decoder_ == nullptr) return;
  std::size_t kept = 0;
  std::string out;
  std::string why;
  for (shm::RecordHeader* h : todo_) {
    if (!waiting_.empty()) {
      waiting_.push_back(h);  // not charged: it was never tried
      continue;
    }
    // Charged before decoding, not after: a record whose bytes take the worker down in
    // the decoder (Avro C) must use up its attempts like one that crashes a handler,
    // instead of being delivered again for ever.
    charge(*h);
    Decoded d;
    RecordSchemas schemas;
    bool failed = false;
    for (const bool key : {true, false}) {
      const bool null = (h->flags & (key ? shm::kFlagKeyNull : shm::kFlagValueNull)) != 0;
      const auto* bytes = reinterpret_cast<const char*>(null ? nullptr : key ? shm::record_key(h) : shm::record_value(h));
      const auto result =
          decoder_->decode(bytes, key ? h->key_len : h->value_len, key, out, key ? schemas.key : schemas.value, why);
      if (result == RecordDecoder::Result::kDecoded) {
        (key ? d.key : d.value) = &decoded_.emplace_back(std::move(out));
        (key ? schemas.key_original : schemas.value_original) = {bytes, key ? h->key_len : h->value_len};
      } else if (result == RecordDecoder::Result::kFailed) {
        fail(*h, why);
        failed = true;
        break;
      } else if (result == RecordDecoder::Result::kUnavailable) {
        give_back(*h);  // not the record's doing
        waiting_.push_back(h);
        waiting_why_ = why;
        break;
      }
    }
    if (failed || !waiting_.empty()) continue;
    // Decoded: the decoder's risk is behind it, and the handler's is charged as its call
    // begins, like any record's.
    give_back(*h);
    todo_[kept++] = h;
    decoded_for_.push_back(d);
    schemas_.push_back(schemas);
  }
  todo_.resize(kept);
}

bool WorkerLoop::wait_unavailable(const std::string& why) {
  const std::uint64_t now = shm::monotonic_ns();
  if (unavailable_rounds_++ == 0) {
    unavailable_since_ns_ = now;
    wstats_.unavailable_since_ns.store(now, std::memory_order_relaxed);
    spdlog::warn("lambda {}: worker {}: handler unavailable ({}); retrying with backoff up to {} ms, without counting "
                 "attempts, until it answers",
                 lambda_.name, slot_, why, lambda_.retry_backoff_ms[1]);
  }
  // A Retry-After is the service's own word: honoured, though never beyond 10 minutes.
  const std::uint64_t asked = std::min<std::uint64_t>(handler_.retry_after_ms(), 600'000);
  return wait_until(std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(std::max(backoff_ms(unavailable_rounds_), asked)));
}

bool WorkerLoop::wait_for_registry() {
  shm::bump(wstats_.registry_unavailable);
  if (registry_rounds_++ == 0) {
    registry_since_ns_ = shm::monotonic_ns();
    wstats_.registry_unavailable_since_ns.store(registry_since_ns_, std::memory_order_relaxed);
    spdlog::warn("lambda {}: worker {}: {}; records wait (no attempt counted), asking again with backoff up to {} ms",
                 lambda_.name, slot_, waiting_why_, lambda_.retry_backoff_ms[1]);
  }
  return wait_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms(registry_rounds_)));
}

void WorkerLoop::registry_again() {
  spdlog::info("lambda {}: worker {}: schema registry answering again after {} ms", lambda_.name, slot_,
               (shm::monotonic_ns() - registry_since_ns_) / 1'000'000);
  registry_rounds_ = 0;
  wstats_.registry_unavailable_since_ns.store(0, std::memory_order_relaxed);
}

bool WorkerLoop::revoked(const shm::RecordHeader& h) const {
  return h.slot >= seg_.epoch_slots() || seg_.epoch(h.slot).load(std::memory_order_acquire) != h.epoch;
}

bool WorkerLoop::too_old(const shm::RecordHeader& h) const {
  return lambda_.max_record_age_s != 0 && config::older_than_max_age(lambda_, h.timestamp_ms, config::wall_clock_ms());
}

void WorkerLoop::available_again() {
  spdlog::info("lambda {}: worker {}: handler answering again after {} ms unavailable", lambda_.name, slot_,
               (shm::monotonic_ns() - unavailable_since_ns_) / 1'000'000);
  unavailable_rounds_ = 0;
  wstats_.unavailable_since_ns.store(0, std::memory_order_relaxed);
}

void WorkerLoop::invoke() {
  call_errors_.clear();
  const std::size_t step = handler_.takes_batches() && !one_per_call_ ? lambda_.batch_size : 1;
  call_start_ns_ = shm::monotonic_ns();
  // A round of one record goes through call_each() too when it streams: the records that
  // come while its request runs must not wait for it (a worker that woke to one record
  // and sent it alone held every later record for as long as that request took).
  if (step == 1 && (records_.size() > 1 || streaming_) && handler_.window() > 1) {
    // Each record is charged as its call begins (call_each()): a round holds several
    // windows, and one that dies with its worker must not charge records never tried.
    for (std::size_t j = 0; j < records_.size(); ++j) observe_queue_wait(j, call_start_ns_);
    called_.assign(records_.size(), 0);
    call_each();
    supervision_.invocation_start_ns.store(0, std::memory_order_relaxed);
    ended_ns_ = call_start_ns_;
    return;
  }
  called_.assign(records_.size(), 1);
  for (std::size_t j = 0; j < records_.size(); ++j) charge_once(j);
  for (std::size_t i = 0; i < records_.size(); i += step) {
    const std::size_t n = std::min(step, records_.size() - i);
    for (std::size_t j = i; j < i + n; ++j) observe_queue_wait(j, call_start_ns_);
    call(i, n);
  }
  supervision_.invocation_start_ns.store(0, std::memory_order_relaxed);
  ended_ns_ = call_start_ns_;
}

void WorkerLoop::observe_queue_wait(std::size_t j, std::uint64_t start_ns) {
  // Retries and redeliveries would add their backoff and the dead worker's time.
  const shm::RecordHeader& h = *todo_[j];
  if (records_[j].attempt == 1 && start_ns > h.enqueue_ns) wstats_.queue_wait.observe(start_ns - h.enqueue_ns);
}

void WorkerLoop::keep_error(std::size_t j) {
  if (results_[j].error == nullptr) return;
  results_[j].error = call_errors_.emplace_back(results_[j].error, ::strnlen(results_[j].error, kMaxErrorText)).c_str();
}

void WorkerLoop::call(std::size_t first, std::size_t n) {
  // The supervisor measures timeout_ms from here.
  supervision_.invocation_start_ns.store(call_start_ns_, std::memory_order_relaxed);
  produce_.clear();
  const auto schemas = schemas_.empty() ? std::span<const RecordSchemas>() : std::span(schemas_).subspan(first, n);
  handler_.call(std::span<const sluice_record>(records_).subspan(first, n), std::span<sluice_result>(results_).subspan(first, n),
                produce_, schemas);
  const std::uint64_t end = shm::monotonic_ns();  // and the next call's start
  shm::bump(wstats_.invocations);
  wstats_.handler_latency.observe(end - call_start_ns_);
  call_start_ns_ = end;
  if (n > 1 && lambda_.bisect_batch_on_error && handler_.failed_as_a_whole() &&
      results_[first].outcome != SLUICE_UNAVAILABLE) {
    // No record's own outcome is known: one bad record would fail (and, retried, dead-letter)
    // its batch-mates. Each half is called at once, with no attempt charged for this call
    // (each record was charged one for the round), down to single records: only a record
    // that fails alone fails. Its retries are then called alone too (one_per_call_):
    // calling records that each failed alone together again would only fail again.
    // Halving rather than one call per record: k bad records among n cost about
    // 2k·log2(n/k) calls instead of n.
    one_per_call_ = true;
    shm::bump(wstats_.split_calls, std::uint64_t{2});
    std::fill_n(results_.begin() + static_cast<std::ptrdiff_t>(first), n, kNoOutcome);
    call(first, n / 2);
    call(first + n / 2, n - n / 2);
    return;
  }
  for (std::size_t j = first; j < first + n; ++j) keep_error(j);
  if (!produce_.empty()) {
    send_outbound(first, n);
    call_start_ns_ = shm::monotonic_ns();  // it may have waited for room: not the next call's time
  }
}

void WorkerLoop::call_each() {
  supervision_.invocation_start_ns.store(call_start_ns_, std::memory_order_relaxed);
  produce_.clear();
  std::uint64_t last = call_start_ns_;
  const Handler::Begun begun = [this](std::size_t i) { charge_once(i); };
  const Handler::More more = streaming_ ? Handler::More([this](std::size_t n) { return pull(n); }) : Handler::More();
  handler_.call_each(records_, results_, produce_, schemas_, stop_, begun, [&](std::size_t i, std::uint64_t latency_ns) {
    charge_once(i);  // a handler that answered without saying it began
    called_[i] = 1;
    shm::bump(wstats_.invocations);
    wstats_.handler_latency.observe(latency_ns);
    // An answer shows the handler is not stuck: the supervisor's hung-handler clock starts
    // again (each request's own timeout_ms is the handler's to enforce).
    last = shm::monotonic_ns();
    supervision_.invocation_start_ns.store(last, std::memory_order_relaxed);
    keep_error(i);
    // Each record's own, with its trace context, as a call of one record would send them.
    if (!produce_.empty()) {
      send_outbound(i, 1);
      produce_.clear();
    }
    if (!streaming_) return is_final(i);
    // Settled now, and released with the run of settled records before it. One to be
    // retried (or waiting out an outage) ends the stream: the round then ends as
    // rounds do, and its retries wait out their backoff.
    const bool settled = settle(i);
    if (!settled) streaming_ = false;
    release_settled(last);
    return settled;
  }, more);
  call_start_ns_ = last;
}

void WorkerLoop::send_outbound(std::size_t first, std::size_t n) {
  // The records belong to the call's ok records; the others will be called again, and
  // that call brings its own.
  std::optional<std::size_t> leader;  // an index into results_, so not compared with n
  for (std::size_t j = first; j < first + n; ++j) {
    if (results_[j].outcome == SLUICE_OK) leader = j;
  }
  if (!leader) return;
  // They carry the context of the first ok record that has one (for a call of one record,
  // that record's), so a trace follows a record into what its handler produced.
  std::optional<TraceContext> ctx;
  for (std::size_t j = first; j < first + n && !ctx; ++j) {
    if (results_[j].outcome == SLUICE_OK) ctx = trace_context_of(records_[j]);
  }
  if (ctx) {
    for (auto& r : produce_) inherit_trace_context(r, *ctx);
  }
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // into encoded_headers_
  encoded_headers_.clear();
  const std::uint64_t max = shm::max_record_in_ring(reply_.capacity());
  for (const auto& r : produce_) {
    const std::size_t start = encoded_headers_.size();
    for (const auto& [name, value] : r.headers) {
      const std::size_t at = encoded_headers_.size();
      encoded_headers_.resize(at + shm::encoded_header_size(name.size(), value ? value->size() : 0));
      shm::encode_header(encoded_headers_.data() + at, name, value ? value->data() : nullptr, value ? value->size() : 0);
    }
    spans.emplace_back(start, encoded_headers_.size() - start);
    const std::uint64_t size = shm::outbound_size(r.topic.size(), r.key ? r.key->size() : 0, r.value ? r.value->size() : 0,
                                                  encoded_headers_.size() - start);
    if (size > max) {
      outbound_error_ = "produce: a record of " + std::to_string(size) + " bytes is larger than the reply ring carries (" +
                        std::to_string(max) + ")";
      for (std::size_t j = first; j < first + n; ++j) {
        if (results_[j].outcome == SLUICE_OK) results_[j] = {SLUICE_RETRY, outbound_error_.c_str()};
      }
      return;
    }
  }
  const shm::RecordHeader& lead = *todo_[*leader];
  const std::uint32_t attempt = lead.attempts.load(std::memory_order_relaxed);
  for (std::size_t k = 0; k < produce_.size(); ++k) {
    const auto& r = produce_[k];
    const std::size_t hlen = spans[k].second;
    shm::RecordHeader* out = reserve_reply(shm::outbound_size(r.topic.size(), r.key ? r.key->size() : 0,
                                                              r.value ? r.value->size() : 0, hlen));
    shm::write_outbound(out, lead.seq, attempt, r.topic, r.partition, r.key ? r.key->data() : nullptr,
                        r.key ? r.key->size() : 0, r.value ? r.value->data() : nullptr, r.value ? r.value->size() : 0,
                        encoded_headers_.data() + spans[k].first, hlen);
    reply_.commit();
  }
  for (std::size_t j = first; j < first + n; ++j) {
    if (j == leader || results_[j].outcome != SLUICE_OK) continue;
    shm::write_await(reserve_reply(shm::kAwaitSize), todo_[j]->seq, todo_[j]->attempts.load(std::memory_order_relaxed),
                     lead.seq);
    reply_.commit();
  }
  // Visible before the records' ok status is stored (see process()).
  reply_.publish();
}

shm::RecordHeader* WorkerLoop::reserve_reply(std::uint32_t size) {
  shm::RecordHeader* r = nullptr;
  while ((r = reply_.try_reserve(size)) == nullptr) {
    // The consumer reads replies continuously; wait for it (the reply is owed before release).
    reply_.publish();
    reply_.wait_for_space(size, kIdleWaitNs);
    reply_.reclaim();
  }
  return r;
}

std::uint64_t WorkerLoop::backoff_ms(std::uint32_t round) {
  // Exponential from min, capped at max, with jitter over the upper half so that many
  // workers retrying a shared dependency do not retry in lockstep.
  const auto [lo, hi] = lambda_.retry_backoff_ms;
  const std::uint64_t exp = std::min<std::uint64_t>(hi, std::uint64_t{lo} << std::min<std::uint32_t>(round - 1, 30));
  std::uniform_int_distribution<std::uint64_t> jitter(exp / 2, std::max<std::uint64_t>(exp, 1));
  return jitter(rng_);
}

bool WorkerLoop::backoff(std::uint32_t attempt) {
  return wait_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms(attempt)));
}

bool WorkerLoop::wait_until(std::chrono::steady_clock::time_point until) {
  while (std::chrono::steady_clock::now() < until) {
    if (stop_.load(std::memory_order_relaxed)) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(until - std::chrono::steady_clock::now(),
                                                                               std::chrono::milliseconds(50)));
  }
  return true;
}

void WorkerLoop::fail(shm::RecordHeader& h, const std::string& reason) {
  shm::write_reason(reserve_reply(shm::reason_size(reason.size())), h, reason);
  reply_.commit();
  reply_.publish();  // before the status: a successor worker skips a finished record
  h.status.store(shm::Status::kFailed, std::memory_order_relaxed);
}

}  // namespace sluice::worker
