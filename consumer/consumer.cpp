#include "consumer/consumer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

#include "config/record_age.hpp"
#include "consumer/broker_state.hpp"
#include "consumer/partition_share.hpp"
#include "kafka/watermarks.hpp"
#include "shm/clock.hpp"
#include "shm/control_channel.hpp"
#include "shm/headers_codec.hpp"
#include "shm/records.hpp"

namespace sluice::consumer {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kBatch = 1024;
constexpr ssize_t kPublishEvery = 64;  // one locked store per 64 records
constexpr auto kDrainPoll = std::chrono::milliseconds(1);
constexpr int kWatermarkTimeoutMs = 5000;
// What a backlog record counts against ring_bytes: its size in a ring without headers.
std::uint64_t backlog_size(const rd_kafka_message_t& m) { return shm::record_size(m.key_len, m.len, 0); }


}  // namespace

Consumer::Consumer(const shm::Segment& seg, config::Lambda lambda, const std::atomic<bool>& stop, int control_fd)
    : seg_(seg),
      lambda_(std::move(lambda)),
      stop_(stop),
      stats_(seg.stats()),
      rings_(seg),
      control_fd_(control_fd),
      suspects_(lambda_.max_attempts),
      assignment_(seg, lambda_.topics) {

  kafka::ConfPtr conf = kafka::make_conf(kafka::consumer_properties(lambda_));
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Consumer::rebalance_cb);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &Consumer::commit_cb);
  rd_kafka_conf_set_stats_cb(conf.get(), &Consumer::stats_cb);
  rd_kafka_conf_set_error_cb(conf.get(), &Consumer::error_cb);
  rk_ = kafka::make_client(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(rk_.get());
  queue_.reset(rd_kafka_queue_get_consumer(rk_.get()));
  gauges_ = std::make_unique<PartitionGauges>(rk_.get(), lambda_, stats_, assignment_,
                                              [this](Partition& p, std::int64_t offset) { restart_fetch_at(p, offset); });
  fetch_ = std::make_unique<FetchControl>(rk_.get(), lambda_.name);
  commits_ = std::make_unique<Commits>(
      lambda_.name, stats_, assignment_,
      Commits::Client{[this](rd_kafka_topic_partition_list_t& l) { return rd_kafka_offsets_store(rk_.get(), &l); },
                      [this](rd_kafka_topic_partition_list_t& l) { return rd_kafka_commit(rk_.get(), &l, 0); }});
  resets_ = std::make_unique<OffsetResets>(
      lambda_, stats_, assignment_,
      OffsetResets::Broker{
          [this](std::vector<kafka::Watermarks>& w) { return kafka::query_watermarks(rk_.get(), w, kWatermarkTimeoutMs); },
          [this](rd_kafka_topic_partition_list_t& l) {
            return rd_kafka_offsets_for_times(rk_.get(), &l, kWatermarkTimeoutMs);
          }},
      OffsetResets::Actions{[this](Partition& p) { stop_partition(p); }, [this](Partition& p) { forget_in_flight(p); },
                            [this](const OffsetResets::Starts& s) { restart_fetch_at(s); }});

  kafka::PartitionListPtr topics(rd_kafka_topic_partition_list_new(static_cast<int>(lambda_.topics.size())));
  for (const auto& t : lambda_.topics) rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(rk_.get(), topics.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("cannot subscribe: ") + rd_kafka_err2str(err));
  }
  next_commit_ = Clock::now() + std::chrono::milliseconds(lambda_.commit_interval_ms);
  failures_ = std::make_unique<FailurePath>(lambda_, stats_, assignment_, [this](Partition& p) { stop_partition(p); });
  outbound_ = std::make_unique<OutboundSender>(lambda_, stats_, [this](const Invocations::Settled& s) { settle(s); });
}

void Consumer::carry(const std::vector<shm::CarriedAttempt>& list) {
  suspects_.carry(list, lambda_.topics.size());
  if (!list.empty()) {
    spdlog::info("lambda {}: {} record(s) the previous consumer's workers had tried keep their attempt counts",
                 lambda_.name, list.size());
  }
}

Consumer::~Consumer() {
  failures_.reset();
  outbound_.reset();
  assignment_.clear();  // frees backlog messages before the handle goes
  gauges_.reset();  // joins its thread, which uses the handle
  queue_.reset();
  // A consumer that gives up without shutdown() (a ring it cannot have repaired) must
  // not close here: closing serves the rebalance callback, whose revoke drains and
  // commits through members already destroyed after this body. It leaves uncommitted;
  // the group notices its session end and its records are delivered again.
  rd_kafka_destroy_flags(rk_.release(), shutting_down_ ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

int Consumer::run() {
  spdlog::info("consumer for lambda {} started: group {}, topics {}, {} workers", lambda_.name, lambda_.group_id,
               fmt::join(lambda_.topics, ","), rings_.size());
  rd_kafka_message_t* batch[kBatch];
  while (!stop_.load(std::memory_order_relaxed)) {
    pass(Turn::kRun);

    // Take what is already there without waiting; only block when nothing is.
    ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), 0, batch, kBatch);
    if (n == 0) {
      const int timeout_ms = total_backlog() > 0 ? 1 : total_in_flight() > 0 ? 5 : 100;
      n = rd_kafka_consume_batch_queue(queue_.get(), timeout_ms, batch, 1);
    }
    clock_ns_ = shm::monotonic_ns();
    for (ssize_t i = 0; i < n; ++i) {
      accept(kafka::MessagePtr(batch[i]));
      // A running worker starts on the first records while the rest are copied: one
      // batch holds up to kBatch records (measured up to ~125 us of copying at 450,000
      // msg/s). Without waking it: a wake per 64 records cost 2.5x the context switches
      // in the 1 KiB throughput run and no record wait; the batch-end publish wakes.
      if (i % kPublishEvery == kPublishEvery - 1) rings_.publish_all(false);
    }
    if (resets_->pending()) resets_->handle();
    rings_.publish_all(true);
    if (gauges_->committed_outstanding()) gauges_->read_committed();

    if (Clock::now() >= next_commit_) {
      poll_control();
      reap_all();
      commits_->commit(false);
      publish_stats();
      next_commit_ = Clock::now() + std::chrono::milliseconds(lambda_.commit_interval_ms);
    }
    if (cannot_repair_) return 1;
    if (rd_kafka_fatal_error(rk_.get(), nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      char reason[512];
      rd_kafka_fatal_error(rk_.get(), reason, sizeof reason);
      spdlog::error("lambda {}: fatal Kafka error: {}", lambda_.name, reason);
      return 1;
    }
  }
  shutdown();
  return 0;
}

void Consumer::pass(Turn turn) {
  // The heartbeat is what the supervisor's consumer_stall_s reads: a drain that stamped
  // the time of the pass it interrupted looked like a stalled loop.
  clock_ns_ = shm::monotonic_ns();
  heartbeat();
  if (turn == Turn::kStop ||
      (turn == Turn::kRun && rings_.any_quarantined())) {
    poll_control();
  }
  poll_producers();
  reap_all();
  if (turn != Turn::kRevoke) pump_backlogs();
  rings_.publish_all(true);
}

void Consumer::accept(kafka::MessagePtr msg) {
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && msg->rkt != nullptr) {
      // Handled after the batch, together with the others in it.
      if (const Partition* p = find(rd_kafka_topic_name(msg->rkt), msg->partition)) resets_->note(*p, msg->offset);
      return;
    }
    const char* topic = msg->rkt != nullptr ? rd_kafka_topic_name(msg->rkt) : "-";
    spdlog::error("lambda {}: consume error on {}[{}]: {}", lambda_.name, topic, msg->partition,
                  rd_kafka_message_errstr(msg.get()));
    return;
  }
  shm::bump(stats_.consumed);
  Partition* p = find(rd_kafka_topic_name(msg->rkt), msg->partition);
  if (p == nullptr) {
    // Not assigned (any more): not ours to handle or commit.
    return;
  }
  p->stats->position.store(msg->offset + 1, std::memory_order_relaxed);
  p->expected = msg->offset + 1;
  if (!p->backlog.empty() || p->stopped || !dispatch(*p, *msg)) {
    backlog_bytes_ += backlog_size(*msg);
    p->backlog.push_back(std::move(msg));
    // Pausing costs a refetch: librdkafka drops a paused partition's prefetched records
    // and fetches them again on resume (measured: 26-53 pauses per 200,000 1 KiB records
    // with a worker that is only descheduled now and then). A full ring is usually that
    // brief, so the backlogs take up to one ring's worth (as records in a ring, headers
    // included: empty records count too) first; a stopped partition, or
    // one at max_in_flight (a slow handler, by the operator's choice), pauses at once.
    const bool waits_long = p->stopped || p->tracker.in_flight() >= lambda_.max_in_flight;
    if (!p->paused && (waits_long || backlog_bytes_ > lambda_.ring_bytes)) {
      set_paused(*p, true);
      shm::bump(stats_.paused);
    }
  }
}

void Consumer::clear_backlog(Partition& p) {
  for (const auto& m : p.backlog) backlog_bytes_ -= backlog_size(*m);
  p.backlog.clear();
}

bool Consumer::dispatch(Partition& p, const rd_kafka_message_t& msg) {
  if (p.tracker.in_flight() >= partition_share(lambda_, assignment_.size())) return false;
  incoming_.read(msg);
  // A record no filter admits is done: it completes in order with the rest, and is never
  // dead-lettered for a limit (the lambda does not want it at all).
  if (filter_.active() && !filter_.admits(p.topic, incoming_.message(), incoming_.headers())) {
    p.tracker.dispatched(msg.offset);
    assignment_.complete(p.topic_index, p.partition, p.epoch, msg.offset, stats_.filtered);
    return true;
  }
  const std::int64_t now_ms = lambda_.max_record_age_s == 0 ? 0 : config::wall_clock_ms();
  if (std::string why = incoming_.refusal(lambda_, now_ms); !why.empty()) {
    p.tracker.dispatched(msg.offset);
    failures_->fail(p, incoming_.dead_letter(p, std::move(why)));
    return true;
  }
  // Delivered again with a history (consumer/suspects.hpp): the attempts it used count,
  // and it goes alone into its ring (see quarantine()).
  std::uint32_t attempts = 0;
  bool suspect = false;
  if (const Suspects::Entry* e = suspects_.find(key_of(p.topic_index, p.partition), msg.offset)) {
    if (suspects_.exhausted(*e)) {
      p.tracker.dispatched(msg.offset);
      DeadLetter dl = incoming_.dead_letter(p, e->reason);
      dl.attempts = e->attempts;
      suspects_.erase(key_of(p.topic_index, p.partition), msg.offset);
      failures_->fail(p, std::move(dl));
      return true;
    }
    attempts = e->attempts;
    suspect = true;
  }
  const std::uint32_t r = rings_.choose(lambda_.ordering, p.partition, p.topic_index, msg.key, msg.key_len);
  if (!rings_.open(r)) return false;  // until its worker is replaced / its suspect is done
  if (suspect && rings_.in_ring(r) != 0) {
    reap(r);
    if (rings_.in_ring(r) != 0 || rings_.quarantined(r)) return false;
  }
  const std::uint32_t size = incoming_.ring_size();
  shm::RecordHeader* h = rings_.try_reserve(r, size);
  if (h == nullptr) {
    reap(r);
    if ((h = rings_.try_reserve(r, size)) == nullptr) return false;
  }
  incoming_.write(h, {.seq = ++seq_,
                      .enqueue_ns = clock_ns_,
                      .partition = p.partition,
                      .slot = p.slot,
                      .epoch = p.epoch,
                      .topic_index = p.topic_index,
                      .attempts = attempts});
  rings_.commit(r,
                Sent{.seq = seq_, .offset = msg.offset, .epoch = p.epoch, .partition = p.partition, .topic_index = p.topic_index,
                     .flags = h->flags, .key_len = h->key_len, .value_len = h->value_len, .headers_len = h->headers_len},
                suspect);
  if (suspect) suspects_.erase(key_of(p.topic_index, p.partition), msg.offset);
  p.tracker.dispatched(msg.offset);
  shm::bump(stats_.dispatched);
  return true;
}

void Consumer::pump_backlogs() {
  for (auto& [key, pp] : assignment_) {
    Partition& p = *pp;
    while (!p.backlog.empty() && !p.stopped && dispatch(p, *p.backlog.front())) {
      backlog_bytes_ -= backlog_size(*p.backlog.front());
      p.backlog.pop_front();
    }
    if (p.backlog.empty() && p.paused && !p.stopped && !shutting_down_) resume(p);
  }
}

void Consumer::reap_all() {
  for (std::uint32_t r = 0; r < rings_.size(); ++r) reap(r);
}

void Consumer::reap(std::uint32_t r) {
  if (rings_.quarantined(r)) return;
  const std::string why = rings_.reap(
      r, [&](const shm::RecordHeader* h, std::uint32_t size) { return read_reply(r, h, size); },
      [&](const Sent& s) { return complete(r, s); });
  if (!why.empty()) quarantine(r, why);
}

std::string Consumer::read_reply(std::uint32_t r, const shm::RecordHeader* h, std::uint32_t size) {
  return said_.take(shm::read_reply(h, size), [&](std::uint64_t seq) { return rings_.waiting(r, seq); });
}

void Consumer::settle(const Invocations::Settled& s) {
  if (!s.refused.empty()) {
    // What the handler asked for cannot be done, so its records failed. Their bytes are
    // no longer here: they are fetched again and take the failure path from dispatch.
    std::vector<Partition*> affected;
    for (const auto& m : s.members) {
      Partition* p = find(m.topic_index, m.partition);
      if (p == nullptr || p->epoch != m.epoch) continue;
      suspects_.fail(key_of(m.topic_index, m.partition), m.offset, s.refused);
      if (std::find(affected.begin(), affected.end(), p) == affected.end()) affected.push_back(p);
    }
    for (Partition* p : affected) rewind(*p);
    return;
  }
  for (const auto& m : s.members) assignment_.complete(m.topic_index, m.partition, m.epoch, m.offset, stats_.handled_ok);
}

bool Consumer::complete(std::uint32_t r, const Sent& s) {
  const shm::RecordHeader* h = rings_.at(r, s.start);
  const auto status = static_cast<std::uint32_t>(h->status.load(std::memory_order_relaxed));
  const std::uint32_t attempt = h->attempts.load(std::memory_order_relaxed);
  // What the reply ring said about it; outbound bookkeeping counts only when it came
  // from the record's last invocation (a crashed attempt's leftovers are dropped).
  WorkerReplies::Outcome said = said_.take_outcome(s.seq, attempt, status == static_cast<std::uint32_t>(shm::Status::kOk));
  Partition* p = find(s.topic_index, s.partition);
  const bool owned = p != nullptr && p->epoch == s.epoch;
  if (status == static_cast<std::uint32_t>(shm::Status::kRevoked) && owned) {
    // Revoked means its partition was revoked since it was sent; this one was not.
    quarantine(r, "it marked " + p->topic + "[" + std::to_string(s.partition) + "]@" + std::to_string(s.offset) +
                      " revoked, but that partition was never revoked");
    return false;
  }
  if (status != static_cast<std::uint32_t>(shm::Status::kOk) && status != static_cast<std::uint32_t>(shm::Status::kFailed) &&
      status != static_cast<std::uint32_t>(shm::Status::kRevoked)) {
    quarantine(r, "it released offset " + std::to_string(s.offset) + " with status " + std::to_string(status) +
                      " (no outcome)");
    return false;
  }
  if (!said.produce.empty()) {
    // Sent even for a revoked leader: records of its invocation in partitions still
    // owned wait for these acknowledgements.
    if (owned) outbound_->join(s.seq, {s.topic_index, s.partition, s.offset, s.epoch});
    outbound_->send(s.seq, std::move(said.produce));
  } else {
    // Records awaited a leader that brought nothing to produce after all: nothing to wait for.
    outbound_->reaped_without_records(s.seq);
  }
  if (!owned || status == static_cast<std::uint32_t>(shm::Status::kRevoked)) {
    shm::bump(stats_.stale);
    return true;  // revoked meanwhile: its new owner delivers it again
  }
  if (status == static_cast<std::uint32_t>(shm::Status::kFailed)) {
    failures_->fail(*p, describe(*p, r, s, attempt, said.reason.empty() ? "handler failed" : std::move(said.reason)));
    return true;
  }
  if (said.leader) {  // completes with its invocation's leader, which comes later in this ring
    outbound_->join(*said.leader, {s.topic_index, s.partition, s.offset, s.epoch});
    return true;
  }
  if (outbound_->waiting(s.seq)) return true;  // a leader: completes on acknowledgement
  assignment_.complete(s.topic_index, s.partition, s.epoch, s.offset, stats_.handled_ok);
  return true;
}

DeadLetter Consumer::describe(const Partition& p, std::uint32_t r, const Sent& s, std::uint32_t attempts,
                               std::string reason) {
  DeadLetter dl{p.topic_index, p.topic, p.partition, s.offset, p.epoch, attempts, std::move(reason), std::nullopt,
                std::nullopt, {}};
  // The bytes are the ring's, the lengths ours: a worker that changed the record can
  // change what is dead-lettered, never where it is read from.
  const char* key = reinterpret_cast<const char*>(rings_.at(r, s.start) + 1);
  if ((s.flags & shm::kFlagKeyNull) == 0) dl.key.emplace(key, s.key_len);
  if ((s.flags & shm::kFlagValueNull) == 0) dl.value.emplace(key + s.key_len, s.value_len);
  const bool ok = shm::for_each_header(reinterpret_cast<const std::byte*>(key + s.key_len + s.value_len), s.headers_len,
                                       [&](const shm::HeaderView& v) {
                                         dl.headers.push_back(kafka::make_header(v.name, v.value, v.value_len));
                                       });
  if (!ok) {
    spdlog::warn("lambda {}: the headers of {}[{}]@{} were overwritten in shared memory; dead-lettering what could be read",
                 lambda_.name, p.topic, p.partition, s.offset);
  }
  return dl;
}

void Consumer::poll_producers() {
  failures_->poll();
  outbound_->poll();
}

std::uint32_t Consumer::resume_stopped(std::uint32_t topic_index, std::int32_t partition, const char* why) {
  std::uint32_t n = 0;
  for (auto& [k, pp] : assignment_) {
    Partition& p = *pp;
    if (!p.stopped || (topic_index != shm::kAllTopics && p.topic_index != topic_index) ||
        (partition >= 0 && p.partition != partition)) {
      continue;
    }
    // Fetched again from the record that failed, which gets max_attempts afresh: the
    // operator fixed what made it fail (or wants to see it fail again).
    const std::int64_t from = p.tracker.committable();
    spdlog::info("lambda {}: {}[{}] resumed at offset {} ({})", lambda_.name, p.topic, p.partition, from, why);
    p.stopped = false;
    p.stats->stopped.store(0, std::memory_order_relaxed);
    stats_.stopped_partitions.fetch_sub(1, std::memory_order_relaxed);
    suspects_.forget(k);
    rewind(p);  // resumes it as it restarts the fetch
    if (p.paused) resume(p);  // nothing to fetch again
    ++n;
  }
  return n;
}

void Consumer::stop_partition(Partition& p) {
  if (!p.stopped) {
    p.stats->stopped.store(1, std::memory_order_relaxed);
    shm::bump(stats_.stopped_partitions);
    p.stopped_at = Clock::now();
  }
  p.stopped = true;
  if (!p.paused) set_paused(p, true);
}

void Consumer::restart_fetch_at(Partition& p, std::int64_t offset) { restart_fetch_at({{&p, offset}}); }

void Consumer::restart_fetch_at(const std::vector<std::pair<Partition*, std::int64_t>>& starts) {
  const std::string error = fetch_->restart_at(starts, shutting_down_);
  if (error.empty()) return;
  for (const auto& [p, offset] : starts) {
    // Nothing is skipped silently: the partition stays where it is, and is reported.
    spdlog::error("lambda {}: cannot restart {}[{}] at offset {}: {}; partition stopped", lambda_.name, p->topic,
                  p->partition, offset, error);
    stop_partition(*p);
  }
}

void Consumer::resume(Partition& p) {
  fetch_->resume(p, std::all_of(assignment_.begin(), assignment_.end(), [](const auto& kv) { return kv.second->paused; }));
}

void Consumer::set_paused(Partition& p, bool paused) { fetch_->set_paused(p, paused); }

void Consumer::rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  self->fetch_->set_cooperative(std::strcmp(rd_kafka_rebalance_protocol(self->rk_.get()), "COOPERATIVE") == 0);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    shm::bump(self->stats_.assigns);
    self->on_assign(parts);
  } else {
    shm::bump(self->stats_.revokes);
    self->on_revoke(parts);
  }
}

void Consumer::commit_cb(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  static_cast<Consumer*>(opaque)->commits_->on_commit(err, offsets);
}

int Consumer::stats_cb(rd_kafka_t*, char* json, size_t len, void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  const std::uint64_t now = shm::monotonic_ns();
  if (const auto counts = count_brokers(std::string_view(json, len))) record_brokers(self->stats_, *counts, now);
  if (const auto group = read_group_state(std::string_view(json, len))) self->group_.record(self->stats_, *group, now);
  self->gauges_->statistics(std::string_view(json, len));
  return 0;  // librdkafka frees the text
}

void Consumer::error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) record_all_brokers_down(self->stats_, shm::monotonic_ns());
  // Connection errors come and go while librdkafka reconnects by itself: a warning. The
  // consumer process ends on fatal errors only (run()).
  spdlog::log(rd_kafka_fatal_error(rk, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR ? spdlog::level::err : spdlog::level::warn,
              "lambda {}: kafka: {}: {}", self->lambda_.name, rd_kafka_err2name(code), reason);
}

void Consumer::on_assign(rd_kafka_topic_partition_list_t* parts) {
  std::vector<std::pair<std::string, std::int32_t>> added;
  for (int i = 0; i < parts->cnt; ++i) {
    try {
      if (const Partition* p = assignment_.add(parts->elems[i].topic, parts->elems[i].partition)) {
        added.emplace_back(p->topic, p->partition);
      }
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("lambda " + lambda_.name + ": " + e.what());
    }
  }
  spdlog::info("lambda {}: assigned {} partition(s)", lambda_.name, parts->cnt);
  gauges_->assigned(added);
  fetch_->assign(parts);
}

void Consumer::on_revoke(rd_kafka_topic_partition_list_t* parts) {
  const bool lost = rd_kafka_assignment_lost(rk_.get()) != 0;
  std::vector<Partition*> revoked;
  for (int i = 0; i < parts->cnt; ++i) {
    if (Partition* p = find(parts->elems[i].topic, parts->elems[i].partition)) {
      clear_backlog(*p);  // never dispatched: the next owner fetches them
      revoked.push_back(p);
    }
  }
  if (!lost) {
    // Let in-flight records of the revoked partitions finish, so their offsets can be
    // committed before the next owner starts.
    const auto deadline = Clock::now() + std::chrono::milliseconds(lambda_.drain_timeout_ms);
    auto busy = [&] {
      for (const Partition* p : revoked) {
        if (p->tracker.in_flight() > 0 && !p->stopped) return true;
      }
      return false;
    };
    while (busy() && !held_only_by_stalled_workers() && Clock::now() < deadline) {
      pass(Turn::kRevoke);
      std::this_thread::sleep_for(kDrainPoll);
    }
    commits_->commit(true);
  } else {
    spdlog::warn("lambda {}: assignment lost; dropping {} partition(s) without committing", lambda_.name, revoked.size());
  }
  for (Partition* p : revoked) {
    if (p->stopped) stats_.stopped_partitions.fetch_sub(1, std::memory_order_relaxed);
    assignment_.remove(*p);
  }
  spdlog::info("lambda {}: revoked {} partition(s){}", lambda_.name, parts->cnt, lost ? " (lost)" : "");
  fetch_->unassign(parts);
}

bool Consumer::held_only_by_stalled_workers() const {
  return rings_.held_only_by_stalled_workers(shutting_down_, total_in_flight());
}

void Consumer::shutdown() {
  shutting_down_ = true;
  spdlog::info("lambda {}: stopping: draining {} in-flight and {} fetched record(s)", lambda_.name, total_in_flight(),
               total_backlog());
  for (auto& [k, p] : assignment_) {
    if (!p->paused) set_paused(*p, true);
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(lambda_.drain_timeout_ms);
  rd_kafka_message_t* batch[kBatch];
  for (;;) {
    pass(Turn::kStop);
    // Serve callbacks (commit results) and take what was fetched before the pause.
    const ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), 0, batch, kBatch);
    for (ssize_t i = 0; i < n; ++i) accept(kafka::MessagePtr(batch[i]));
    if (resets_->pending()) resets_->handle();
    bool busy = false;
    for (auto& [k, p] : assignment_) busy = busy || (!p->stopped && (p->tracker.in_flight() > 0 || !p->backlog.empty()));
    if (!busy) break;
    if (held_only_by_stalled_workers()) {
      spdlog::info("lambda {}: stopping without waiting for {} record(s) held by workers that ended or whose handler is "
                   "unavailable; "
                   "they will be delivered again",
                   lambda_.name, total_in_flight());
      break;
    }
    if (Clock::now() >= deadline) {
      spdlog::warn("lambda {}: drain deadline ({} ms) passed with {} record(s) in flight; they will be delivered again",
                   lambda_.name, lambda_.drain_timeout_ms, total_in_flight());
      break;
    }
    std::this_thread::sleep_for(kDrainPoll);
  }
  commits_->commit(true);
  // Leaving the group revokes everything through rebalance_cb (nothing left to drain).
  rd_kafka_consumer_close(rk_.get());
  spdlog::info(
      "lambda {}: consumer stopped: {} consumed, {} handled, {} failed, {} dead-lettered, {} skipped, "
      "{} backpressure pauses, {} commits",
      lambda_.name, stats_.consumed.load(), stats_.handled_ok.load(), stats_.failed.load(), stats_.dead_lettered.load(),
      stats_.skipped.load(), stats_.paused.load(), stats_.commits.load());
}

void Consumer::heartbeat() { seg_.header().consumer_heartbeat_ns.store(clock_ns_, std::memory_order_relaxed); }

void Consumer::forget_in_flight(Partition& p) {
  assignment_.new_epoch(p);
  p.tracker = OffsetTracker{};
  clear_backlog(p);
}

void Consumer::rewind(Partition& p) {
  const std::int64_t from = p.tracker.committable();
  forget_in_flight(p);
  if (from < 0) return;  // nothing was dispatched: nothing to fetch again
  p.tracker.skip_to(from);
  restart_fetch_at(p, from);
}

void Consumer::quarantine(std::uint32_t r, const std::string& why) {
  auto taken = rings_.quarantine(r);
  if (!taken) return;
  spdlog::error("lambda {}: worker {} broke the ring protocol: {}; killing it and delivering its {} record(s) again",
                lambda_.name, r, why, taken->records.size());
  // Every record still in the ring is delivered again, from Kafka: the ring's copy may
  // be what the worker broke. Which record's handler broke it is not known, but it was
  // one the worker had taken (attempts > 0): those are suspects, delivered again one at
  // a time (dispatch(), like AWS's bisect of a failing batch), and charged the attempt
  // when it is certain: the worker was still inside it, or it was alone in the ring. So
  // a record that breaks its worker every time reaches the failure path after
  // max_attempts, and the records that happened to be near it are not charged for it.
  const std::string reason = "worker " + std::to_string(r) + " broke the ring protocol while handling it: " + why;
  std::vector<Partition*> affected;
  for (const Sent& s : taken->records) {
    said_.forget(s.seq);
    Partition* p = find(s.topic_index, s.partition);
    if (p == nullptr || p->epoch != s.epoch) continue;
    if (std::find(affected.begin(), affected.end(), p) == affected.end()) affected.push_back(p);
    const shm::RecordHeader* h = rings_.at(r, s.start);
    // Written by the worker: Suspects caps it at max_attempts.
    const std::uint32_t used = h->attempts.load(std::memory_order_relaxed);
    if (used == 0) continue;  // never taken: not a suspect
    if (taken->alone || h->status.load(std::memory_order_relaxed) == shm::Status::kPending) {
      suspects_.charge(key_of(s.topic_index, s.partition), s.offset, used, reason);
    } else {
      suspects_.suspect(key_of(s.topic_index, s.partition), s.offset);
    }
  }
  for (Partition* p : affected) rewind(*p);
  if (control_fd_ < 0 || !shm::send_control(control_fd_, {shm::ControlKind::kQuarantined, r})) {
    // Without the supervisor the ring cannot be repaired; a consumer restart resets every
    // ring (the run loop exits: this may be inside a librdkafka callback).
    spdlog::error("lambda {}: cannot ask the supervisor to replace worker {}; restarting the consumer", lambda_.name, r);
    cannot_repair_ = true;
  }
}

void Consumer::poll_control() {
  if (control_fd_ < 0) return;
  while (const auto m = shm::receive_control(control_fd_)) {
    if (m->kind == shm::ControlKind::kResume) {
      const std::uint32_t n = resume_stopped(m->topic_index, m->partition, "the operator asked");
      shm::send_control(control_fd_, {shm::ControlKind::kResumed, n});
      continue;
    }
    if (m->slot >= rings_.size()) continue;
    if (m->kind == shm::ControlKind::kReset && rings_.quarantined(m->slot)) {
      // The supervisor saw the worker dead and set both rings back to empty.
      rings_.reset(m->slot);
      // A worker may have written over the epoch table too: it is ours, write it again.
      assignment_.republish_epochs();
      spdlog::info("lambda {}: ring {} is empty again; dispatching to it", lambda_.name, m->slot);
    } else if (m->kind == shm::ControlKind::kCorrupt) {
      quarantine(m->slot, "it found its ring corrupt and exited");
    }
  }
}

void Consumer::publish_stats() {
  gauges_->publish(shutting_down_);
  stats_.in_flight.store(total_in_flight(), std::memory_order_relaxed);
  stats_.backlog.store(total_backlog(), std::memory_order_relaxed);
  if (lambda_.resume_stopped_after_s != 0) {
    const auto after = std::chrono::seconds(lambda_.resume_stopped_after_s);
    for (auto& [k, p] : assignment_) {
      if (p->stopped && Clock::now() - p->stopped_at >= after) {
        resume_stopped(p->topic_index, p->partition, "resume_stopped_after_s");
      }
    }
  }
}

std::size_t Consumer::total_in_flight() const {
  std::size_t n = 0;
  for (const auto& [k, p] : assignment_) n += p->tracker.in_flight();
  return n;
}

std::size_t Consumer::total_backlog() const {
  std::size_t n = 0;
  for (const auto& [k, p] : assignment_) n += p->backlog.size();
  return n;
}

}  // namespace sluice::consumer
