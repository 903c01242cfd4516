#include "kafka/watermarks.hpp"

#include <chrono>

#include "kafka/kafka_handles.hpp"

namespace sluice::kafka {

namespace {

// rd_kafka_offsets_for_times stops waiting at its timeout; a logical offset (-2 beginning,
// -1 end) in place of a timestamp asks for a watermark.
rd_kafka_resp_err_t list_offsets(rd_kafka_t* rk, const std::vector<Watermarks>& which, std::int64_t logical,
                                 PartitionListPtr& l, int timeout_ms) {
  l.reset(rd_kafka_topic_partition_list_new(static_cast<int>(which.size())));
  for (const auto& w : which) rd_kafka_topic_partition_list_add(l.get(), w.topic.c_str(), w.partition)->offset = logical;
  if (auto err = rd_kafka_offsets_for_times(rk, l.get(), timeout_ms); err != RD_KAFKA_RESP_ERR_NO_ERROR) return err;
  for (int i = 0; i < l->cnt; ++i) {
    if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) return l->elems[i].err;
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace

rd_kafka_resp_err_t query_watermarks(rd_kafka_t* rk, std::vector<Watermarks>& out, int timeout_ms) {
  if (out.empty()) return RD_KAFKA_RESP_ERR_NO_ERROR;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  PartitionListPtr lows;
  PartitionListPtr highs;
  if (auto err = list_offsets(rk, out, RD_KAFKA_OFFSET_BEGINNING, lows, timeout_ms); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return err;
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return RD_KAFKA_RESP_ERR__TIMED_OUT;
  if (auto err = list_offsets(rk, out, RD_KAFKA_OFFSET_END, highs, static_cast<int>(left));
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return err;
  }
  for (auto& w : out) {
    const auto* lo = rd_kafka_topic_partition_list_find(lows.get(), w.topic.c_str(), w.partition);
    const auto* hi = rd_kafka_topic_partition_list_find(highs.get(), w.topic.c_str(), w.partition);
    if (lo == nullptr || hi == nullptr || hi->offset < 0) return RD_KAFKA_RESP_ERR__BAD_MSG;
    // An empty partition may answer the beginning with -1: then it starts at its end.
    w.high = hi->offset;
    w.low = lo->offset < 0 ? hi->offset : lo->offset;
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void nudge_leader(rd_kafka_t* rk, const std::string& topic, std::int32_t partition) {
  PartitionListPtr l(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), partition)->offset = RD_KAFKA_OFFSET_END;
  // Timeout 0: the request is queued to the leader's broker thread (which wakes it) and
  // the answer, whenever it comes, is dropped; measured 16 us whether the leader is up
  // or down. Returns __TIMED_OUT by design, so the result is not looked at.
  static_cast<void>(rd_kafka_offsets_for_times(rk, l.get(), 0));
}

}  // namespace sluice::kafka
