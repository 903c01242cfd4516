#include "consumer/offset_resets.hpp"

#include <algorithm>
#include <string>

#include <spdlog/spdlog.h>

#include "kafka/kafka_handles.hpp"

namespace sluice::consumer {

void OffsetResets::handle() {
  std::vector<Partition*> fresh;
  // Taken first: an action may end in another reset being noted.
  const auto resets = std::exchange(pending_, {});
  for (const auto& [k, at] : resets) {
    Partition* p = assignment_.find(k);
    if (p == nullptr) continue;  // revoked meanwhile
    if (at < 0 && lambda_.auto_offset_reset != config::OffsetReset::kError) {
      if (std::find(fresh.begin(), fresh.end(), p) == fresh.end()) fresh.push_back(p);
    } else {
      out_of_range(*p, at);
    }
  }
  if (!fresh.empty()) start_fresh(fresh);
}

void OffsetResets::out_of_range(Partition& p, std::int64_t at) {
  const auto policy = lambda_.auto_offset_reset;
  const char* policy_name = config::to_string(policy);
  if (at < 0) {
    // No committed offset and auto_offset_reset = "error" (the others start fresh).
    spdlog::error("lambda {}: {}[{}] has no committed offset and auto_offset_reset = \"error\": not consuming it "
                  "(give the group a position with `sluice offsets reset`, or set auto_offset_reset)",
                  lambda_.name, p.topic, p.partition);
    actions_.stop(p);
    return;
  }
  // Records this group never completed are gone. Never silent.
  shm::bump(stats_.offset_resets);
  std::vector<kafka::Watermarks> w{{p.topic, p.partition}};
  const auto err = broker_.watermarks(w);
  const std::int64_t lo = w[0].low;
  const std::int64_t hi = w[0].high;
  const std::string range = err == RD_KAFKA_RESP_ERR_NO_ERROR
                                ? "the log now holds offsets " + std::to_string(lo) + ".." + std::to_string(hi - 1)
                                : std::string("the log's range is unknown: ") + rd_kafka_err2str(err);
  if (policy == config::OffsetReset::kError || err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::error("lambda {}: {}[{}]: offset {} is out of range ({}); auto_offset_reset = \"{}\": partition stopped, "
                  "nothing past it is committed (move the group with `sluice offsets reset` and restart)",
                  lambda_.name, p.topic, p.partition, at, range, policy_name);
    actions_.stop(p);
    return;
  }
  const std::int64_t target = policy == config::OffsetReset::kEarliest ? lo : hi;
  const std::int64_t skipped = std::max<std::int64_t>(0, target - at);
  shm::bump(stats_.offsets_skipped, static_cast<std::uint64_t>(skipped));
  if (skipped > 0) {
    spdlog::warn("lambda {}: {}[{}]: offset {} is out of range ({}); auto_offset_reset = \"{}\": resuming at {}, "
                 "{} record(s) never handled (offsets {}..{})",
                 lambda_.name, p.topic, p.partition, at, range, policy_name, target, skipped, at, target - 1);
  } else {
    spdlog::warn("lambda {}: {}[{}]: offset {} is out of range ({}); auto_offset_reset = \"{}\": resuming at {}, "
                 "records from there may be handled again",
                 lambda_.name, p.topic, p.partition, at, range, policy_name, target);
  }
  // Backwards (the log was cut at its end): whatever is in flight belongs to offsets
  // that no longer exist.
  if (target < at) actions_.drop_in_flight(p);
  // The skipped offsets will never complete; the next commit records the new position.
  p.tracker.skip_to(target);
  actions_.restart_at({{&p, target}});
}

void OffsetResets::start_fresh(const std::vector<Partition*>& fresh) {
  // Resolve the start to a number and commit it once reached: a group that started at
  // "latest" and restarts later must continue from there, not from a newer end.
  const bool earliest = lambda_.auto_offset_reset == config::OffsetReset::kEarliest;
  const std::int64_t logical = earliest ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
  kafka::PartitionListPtr l(rd_kafka_topic_partition_list_new(static_cast<int>(fresh.size())));
  for (const Partition* p : fresh) rd_kafka_topic_partition_list_add(l.get(), p->topic.c_str(), p->partition)->offset = logical;
  const auto err = broker_.resolve(*l);
  Starts starts;
  std::string where;
  for (Partition* p : fresh) {
    std::int64_t start = logical;  // unresolved: librdkafka resolves it, nothing is committed before a record
    const auto* e = rd_kafka_topic_partition_list_find(l.get(), p->topic.c_str(), p->partition);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && e != nullptr && e->err == RD_KAFKA_RESP_ERR_NO_ERROR && e->offset >= 0) {
      start = e->offset;
      p->tracker.skip_to(start);
    }
    starts.emplace_back(p, start);
    where += (where.empty() ? "" : ", ") + p->topic + "[" + std::to_string(p->partition) + "]@" + std::to_string(start);
  }
  spdlog::info("lambda {}: {} partition(s) with no committed offset start at the {} offset: {}{}", lambda_.name,
               fresh.size(), config::to_string(lambda_.auto_offset_reset), where,
               err == RD_KAFKA_RESP_ERR_NO_ERROR ? "" : std::string(" (offsets unresolved: ") + rd_kafka_err2str(err) + ")");
  actions_.restart_at(starts);
}

}  // namespace sluice::consumer
