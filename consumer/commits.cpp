#include "consumer/commits.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "kafka/kafka_handles.hpp"

namespace sluice::consumer {

using Clock = std::chrono::steady_clock;

void Commits::commit(bool sync) {
  kafka::PartitionListPtr l(rd_kafka_topic_partition_list_new(static_cast<int>(assignment_.size())));
  for (auto& [key, pp] : assignment_) {
    Partition& p = *pp;
    const std::int64_t off = p.tracker.committable();
    if (off < 0 || off <= p.committed || (!sync && off == p.commit_pending)) continue;
    rd_kafka_topic_partition_list_add(l.get(), p.topic.c_str(), p.partition)->offset = off;
    p.commit_pending = off;
    p.stored_at = Clock::now();
  }
  if (l->cnt == 0) return;
  // Always store: auto-commit (and the commit librdkafka makes when the consumer closes)
  // sends what is stored, so a store behind a synchronous commit would move the
  // committed offset backwards.
  if (auto err = client_.store(*l); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("lambda {}: cannot store offsets: {}", lambda_name_, rd_kafka_err2str(err));
  }
  if (!sync) return;  // auto-commit sends it; the commit callback says when it counts
  on_commit(client_.commit(*l), l.get());
}

void Commits::on_commit(rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* offsets) {
  if (offsets == nullptr) return;
  for (int i = 0; i < offsets->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = offsets->elems[i];
    Partition* p = assignment_.find(e.topic, e.partition);
    if (p == nullptr) continue;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && e.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (e.offset > p->committed) {
        p->committed = e.offset;
        p->stats->committed.store(e.offset, std::memory_order_relaxed);
        shm::bump(stats_.commits);
        stats_.last_commit_ms.store(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                    std::chrono::system_clock::now().time_since_epoch())
                                                                    .count()),
                                    std::memory_order_relaxed);
        if (p->commit_pending == e.offset) {
          stats_.commit_latency.observe(static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - p->stored_at).count()));
        }
      }
    } else {
      const auto why = e.err != RD_KAFKA_RESP_ERR_NO_ERROR ? e.err : err;
      shm::bump(stats_.commits_failed);
      spdlog::warn("lambda {}: commit of {}[{}]@{} failed: {}; will retry", lambda_name_, e.topic, e.partition, e.offset,
                   rd_kafka_err2str(why));
    }
    if (p->commit_pending == e.offset) p->commit_pending = -1;
  }
}

}  // namespace sluice::consumer
