#include "consumer/committed_reader.hpp"

#include <memory>

#include <spdlog/spdlog.h>

#include "shm/layout.hpp"

namespace sluice::consumer {
namespace {

constexpr int kRequestTimeoutMs = 10000;

struct AdminDeleter {
  void operator()(rd_kafka_AdminOptions_t* p) const { rd_kafka_AdminOptions_destroy(p); }
  void operator()(rd_kafka_ListConsumerGroupOffsets_t* p) const { rd_kafka_ListConsumerGroupOffsets_destroy(p); }
  void operator()(rd_kafka_event_t* p) const { rd_kafka_event_destroy(p); }
};

}  // namespace

CommittedReader::CommittedReader(rd_kafka_t* rk, std::string group_id)
    : rk_(rk), group_id_(std::move(group_id)), queue_(rd_kafka_queue_new(rk)) {}

void CommittedReader::request(const std::vector<std::pair<std::string, std::int32_t>>& partitions) {
  if (partitions.empty()) return;
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& [t, p] : partitions) rd_kafka_topic_partition_list_add(list.get(), t.c_str(), p);
  std::unique_ptr<rd_kafka_ListConsumerGroupOffsets_t, AdminDeleter> req(
      rd_kafka_ListConsumerGroupOffsets_new(group_id_.c_str(), list.get()));
  std::unique_ptr<rd_kafka_AdminOptions_t, AdminDeleter> opts(
      rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS));
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(opts.get(), kRequestTimeoutMs, err, sizeof err);
  rd_kafka_ListConsumerGroupOffsets_t* one = req.get();
  rd_kafka_ListConsumerGroupOffsets(rk_, &one, 1, opts.get(), queue_.get());
  ++outstanding_;
}

std::vector<CommittedReader::Answer> CommittedReader::take() {
  std::vector<Answer> out;
  while (outstanding_ > 0) {
    std::unique_ptr<rd_kafka_event_t, AdminDeleter> ev(rd_kafka_queue_poll(queue_.get(), 0));
    if (!ev) break;
    if (rd_kafka_event_type(ev.get()) != RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT) continue;
    --outstanding_;
    const auto* result = rd_kafka_event_ListConsumerGroupOffsets_result(ev.get());
    size_t n = 0;
    const rd_kafka_group_result_t** groups =
        result == nullptr ? nullptr : rd_kafka_ListConsumerGroupOffsets_result_groups(result, &n);
    const rd_kafka_topic_partition_list_t* parts = n == 1 ? rd_kafka_group_result_partitions(groups[0]) : nullptr;
    const rd_kafka_error_t* gerr = n == 1 ? rd_kafka_group_result_error(groups[0]) : nullptr;
    if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR || gerr != nullptr || parts == nullptr) {
      spdlog::debug("committed offsets of group {} not read: {}", group_id_,
                    gerr != nullptr ? rd_kafka_error_string(gerr) : rd_kafka_event_error_string(ev.get()));
      continue;
    }
    for (int i = 0; i < parts->cnt; ++i) {
      const rd_kafka_topic_partition_t& e = parts->elems[i];
      if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      out.push_back({e.topic, e.partition, e.offset < 0 ? shm::kNothingCommitted : e.offset});
    }
  }
  return out;
}

}  // namespace sluice::consumer
