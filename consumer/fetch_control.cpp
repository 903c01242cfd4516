#include "consumer/fetch_control.hpp"

#include <spdlog/spdlog.h>

#include "kafka/kafka_handles.hpp"
#include "kafka/watermarks.hpp"

namespace sluice::consumer {

void FetchControl::set_paused(Partition& p, bool paused) {
  kafka::PartitionListPtr l(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(l.get(), p.topic.c_str(), p.partition);
  const auto err = paused ? rd_kafka_pause_partitions(rk_, l.get()) : rd_kafka_resume_partitions(rk_, l.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("lambda {}: cannot {} {}[{}]: {}", lambda_, paused ? "pause" : "resume", p.topic, p.partition,
                 rd_kafka_err2str(err));
  }
  p.paused = paused;
}

void FetchControl::resume(Partition& p, bool all_were_paused) {
  set_paused(p, false);
  if (!all_were_paused) return;
  // librdkafka 2.0.2 does not wake a broker thread when a partition resumes, and one
  // whose partitions were all paused sleeps up to a second before it fetches again:
  // measured here as 0.6-0.9 s with the rings empty and the worker idle (the same shows
  // in confluent-kafka-go issue 630). Any request to the partition's leader wakes that
  // thread, which then fetches the resumed partition. Not waiting for the answer keeps
  // the loop free when the leader is unreachable.
  kafka::nudge_leader(rk_, p.topic, p.partition);
}

void FetchControl::assign(rd_kafka_topic_partition_list_t* parts) {
  // librdkafka keeps an application pause on a partition across a revoke and a new
  // assignment (2.0.2, and later versions alike): a partition paused while it was ours
  // before would come back never fetched, and nothing would say so. Resumed here, before
  // the assign: a pause or resume made while librdkafka starts the partition's fetcher
  // can make it drop that start (see restart_at).
  if (auto err = rd_kafka_resume_partitions(rk_, parts); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("lambda {}: cannot clear an earlier pause of the assigned partitions: {}", lambda_, rd_kafka_err2str(err));
  }
  if (cooperative_) {
    kafka::ErrorPtr e(rd_kafka_incremental_assign(rk_, parts));
    if (e) spdlog::error("lambda {}: incremental assign failed: {}", lambda_, rd_kafka_error_string(e.get()));
  } else if (auto err = rd_kafka_assign(rk_, parts); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::error("lambda {}: assign failed: {}", lambda_, rd_kafka_err2str(err));
  }
}

void FetchControl::unassign(rd_kafka_topic_partition_list_t* parts) {
  if (cooperative_) {
    kafka::ErrorPtr e(rd_kafka_incremental_unassign(rk_, parts));
    if (e) spdlog::error("lambda {}: incremental unassign failed: {}", lambda_, rd_kafka_error_string(e.get()));
  } else if (auto err = rd_kafka_assign(rk_, nullptr); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::error("lambda {}: unassign failed: {}", lambda_, rd_kafka_err2str(err));
  }
}

std::string FetchControl::restart_at(const std::vector<std::pair<Partition*, std::int64_t>>& starts, bool shutting_down) {
  // After an offset-reset error librdkafka has stopped fetching the partition and refuses
  // a seek; assigning it again with an explicit offset starts it there.
  //
  // librdkafka starts the fetcher on its own thread, once the unassign's stop is done and
  // no commit is in flight, and every pause, resume and start carries a version taken
  // when it is made: a pause or resume made while that thread is between taking the
  // start's version and queueing it is newer, and the start is dropped as outdated. The
  // partition then stays assigned and is never fetched (a CI run saw a partition resumed
  // and re-paused right after its assign stay unfetched for a minute). The pause survives
  // the unassign and assign, so the partition is put now in the state it will start in,
  // and nothing here pauses or resumes it after the assign.
  for (const auto& [p, offset] : starts) {
    // Even when it is already so here: librdkafka may have lost a resume (FetchStall).
    set_paused(*p, p->stopped || shutting_down || !p->backlog.empty());
  }
  kafka::PartitionListPtr l(rd_kafka_topic_partition_list_new(static_cast<int>(starts.size())));
  for (const auto& [p, offset] : starts) {
    rd_kafka_topic_partition_list_add(l.get(), p->topic.c_str(), p->partition)->offset = offset;
  }
  std::string error;
  if (cooperative_) {
    kafka::ErrorPtr off(rd_kafka_incremental_unassign(rk_, l.get()));
    kafka::ErrorPtr on(off ? nullptr : rd_kafka_incremental_assign(rk_, l.get()));
    if (off || on) error = rd_kafka_error_string(off ? off.get() : on.get());
  } else {
    // An eager assign replaces the whole assignment: keep every other partition at its
    // current position rather than sending it back to its committed offset.
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (auto err = rd_kafka_assignment(rk_, &raw); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      error = rd_kafka_err2str(err);
    } else {
      kafka::PartitionListPtr all(raw);
      rd_kafka_position(rk_, all.get());
      for (const auto& [p, offset] : starts) {
        if (auto* e = rd_kafka_topic_partition_list_find(all.get(), p->topic.c_str(), p->partition)) e->offset = offset;
      }
      if (auto err = rd_kafka_assign(rk_, all.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) error = rd_kafka_err2str(err);
    }
  }
  if (!error.empty()) return error;
  for (const auto& [p, offset] : starts) {
    p->expected = offset >= 0 ? offset : -1;
    p->stall.reset();
  }
  return "";
}

}  // namespace sluice::consumer
