#include "worker/worker_loop.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "shm/exit_status.hpp"
#include "shm/headers_codec.hpp"

namespace sluice::worker {
namespace {

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

constexpr std::uint64_t kIdleWaitNs = 200'000'000;  // heartbeat cadence while idle
constexpr std::size_t kMaxErrorText = 1024;

}  // namespace

WorkerLoop::WorkerLoop(const shm::Segment& seg, const config::Lambda& lambda, std::uint32_t slot, Handler& handler,
                       const std::atomic<bool>& stop)
    : seg_(seg),
      lambda_(lambda),
      handler_(handler),
      stop_(stop),
      ctl_(seg.ring(slot)),
      in_(seg.ring(slot), seg.base()),
      reply_(seg.reply_ring(slot), seg.base()),
      rng_(static_cast<unsigned>(getpid())) {
  ctl_.reader_pid.store(getpid(), std::memory_order_relaxed);
  ctl_.invocation_start_ns.store(0, std::memory_order_relaxed);
  if (const int st = ctl_.last_exit_status.load(std::memory_order_acquire); st != 0) {
    const std::uint32_t timeout = ctl_.last_exit_timeout_ms.load(std::memory_order_relaxed);
    previous_exit_ = timeout != 0 ? "handler timed out after " + std::to_string(timeout) + " ms (worker killed)"
                                  : shm::describe_exit("worker", st);
  }
}

void WorkerLoop::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    ctl_.heartbeat_ns.store(now_ns(), std::memory_order_relaxed);
    collect();
    if (batch_.empty()) {
      in_.wait_for_data(kIdleWaitNs);
      continue;
    }
    if (!process()) return;
    reply_.publish();  // replies must be visible before the records are released
    in_.release();
  }
}

void WorkerLoop::collect() {
  batch_.clear();
  const std::uint64_t deadline = now_ns() + std::uint64_t{lambda_.batch_window_ms} * 1'000'000ULL;
  while (batch_.size() < lambda_.batch_size) {
    shm::RecordHeader* h = in_.peek();
    if (h == nullptr) {
      const std::uint64_t now = now_ns();
      if (batch_.empty() || now >= deadline || stop_.load(std::memory_order_relaxed)) break;
      in_.wait_for_data(deadline - now);
      continue;
    }
    batch_.push_back(h);
    in_.advance();
  }
}

bool WorkerLoop::process() {
  todo_.clear();
  for (shm::RecordHeader* h : batch_) {
    if (h->slot >= seg_.epoch_slots() || seg_.epoch(h->slot).load(std::memory_order_acquire) != h->epoch) {
      // Revoked after enqueue: another member owns it now; do not invoke the handler.
      h->status.store(shm::Status::kStale, std::memory_order_relaxed);
    } else if (h->attempts.load(std::memory_order_relaxed) >= lambda_.max_attempts) {
      // Every attempt so far ended without an outcome: the handler took its worker down.
      fail(*h, previous_exit_.empty() ? "attempts exhausted without an outcome" : previous_exit_);
    } else {
      todo_.push_back(h);
    }
  }
  const auto& topics = lambda_.topics;
  while (!todo_.empty()) {
    records_.clear();
    headers_.clear();
    // Headers first, so the record pointers into headers_ stay valid.
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    ranges.reserve(todo_.size());
    for (shm::RecordHeader* h : todo_) {
      const std::size_t first = headers_.size();
      shm::for_each_header(shm::record_headers(h), h->headers_len, [&](const shm::HeaderView& v) {
        headers_.push_back(sluice_header{v.name.data(), v.name.size(), v.value, v.value_len});
      });
      ranges.emplace_back(first, headers_.size() - first);
    }
    for (std::size_t i = 0; i < todo_.size(); ++i) {
      shm::RecordHeader* h = todo_[i];
      const std::uint32_t attempt = h->attempts.fetch_add(1, std::memory_order_relaxed) + 1;
      const std::string& topic = h->topic_index < topics.size() ? topics[h->topic_index] : topics.front();
      records_.push_back(sluice_record{
          topic.c_str(), topic.size(), h->partition, h->offset, h->timestamp_ms, h->timestamp_type,
          (h->flags & shm::kFlagKeyNull) != 0 ? nullptr : shm::record_key(h), h->key_len,
          (h->flags & shm::kFlagValueNull) != 0 ? nullptr : shm::record_value(h), h->value_len,
          ranges[i].second == 0 ? nullptr : headers_.data() + ranges[i].first, ranges[i].second, attempt});
    }
    results_.assign(todo_.size(), sluice_result{SLUICE_FAIL, "handler set no outcome"});
    invoke();

    next_.clear();
    std::uint32_t max_attempt = 0;
    for (std::size_t i = 0; i < todo_.size(); ++i) {
      shm::RecordHeader& h = *todo_[i];
      const sluice_result& r = results_[i];
      const std::string error = r.error != nullptr ? std::string(r.error).substr(0, kMaxErrorText) : "";
      if (r.outcome == SLUICE_OK) {
        h.status.store(shm::Status::kOk, std::memory_order_relaxed);
      } else if (r.outcome == SLUICE_RETRY && h.attempts.load(std::memory_order_relaxed) < lambda_.max_attempts) {
        next_.push_back(&h);
        max_attempt = std::max(max_attempt, h.attempts.load(std::memory_order_relaxed));
      } else {
        fail(h, error.empty() ? "handler failed" : error);
      }
    }
    todo_.swap(next_);
    if (!todo_.empty() && !backoff(max_attempt)) return false;
  }
  return true;
}

void WorkerLoop::invoke() {
  const std::span<const sluice_record> records(records_);
  const std::span<sluice_result> results(results_);
  const std::size_t step = handler_.takes_batches() ? records.size() : 1;
  for (std::size_t i = 0; i < records.size(); i += step) {
    const std::size_t n = std::min(step, records.size() - i);
    // The supervisor measures timeout_ms from here.
    ctl_.invocation_start_ns.store(now_ns(), std::memory_order_relaxed);
    handler_.handle(records.subspan(i, n), results.subspan(i, n));
  }
  ctl_.invocation_start_ns.store(0, std::memory_order_relaxed);
}

bool WorkerLoop::backoff(std::uint32_t attempt) {
  // Exponential from min, capped at max, with jitter over the upper half so that many
  // workers retrying a shared dependency do not retry in lockstep.
  const auto [lo, hi] = lambda_.retry_backoff_ms;
  const std::uint64_t exp = std::min<std::uint64_t>(hi, std::uint64_t{lo} << std::min<std::uint32_t>(attempt - 1, 30));
  std::uniform_int_distribution<std::uint64_t> jitter(exp / 2, std::max<std::uint64_t>(exp, 1));
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(jitter(rng_));
  while (std::chrono::steady_clock::now() < until) {
    if (stop_.load(std::memory_order_relaxed)) return false;
    ctl_.heartbeat_ns.store(now_ns(), std::memory_order_relaxed);
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(until - std::chrono::steady_clock::now(),
                                                                               std::chrono::milliseconds(50)));
  }
  return true;
}

void WorkerLoop::fail(shm::RecordHeader& h, const std::string& reason) {
  const auto size = shm::record_size(0, reason.size(), 0);
  shm::RecordHeader* r = nullptr;
  while ((r = reply_.try_reserve(size)) == nullptr) {
    // The consumer reads replies continuously; wait for it (the reply is owed before release).
    reply_.publish();
    reply_.wait_for_space(size, kIdleWaitNs);
    reply_.reclaim();
  }
  r->kind = shm::RecordKind::kReply;
  r->seq = h.seq;
  r->offset = h.offset;
  r->partition = h.partition;
  r->topic_index = h.topic_index;
  r->attempts.store(h.attempts.load(std::memory_order_relaxed), std::memory_order_relaxed);
  r->key_len = 0;
  r->value_len = static_cast<std::uint32_t>(reason.size());
  r->headers_len = 0;
  r->flags = 0;
  std::memcpy(shm::record_value(r), reason.data(), reason.size());
  reply_.commit();
  h.status.store(shm::Status::kFailed, std::memory_order_relaxed);
}

}  // namespace sluice::worker
