#include "consumer/group_offsets.hpp"

#include <stdexcept>

#include "consumer/kafka_handles.hpp"

namespace sluice::consumer {

std::vector<PartitionOffsets> group_offsets(const std::map<std::string, std::string>& client_properties,
                                            const std::string& group_id, const std::vector<std::string>& topics,
                                            int timeout_ms) {
  auto props = client_properties;
  props["group.id"] = group_id;
  props["enable.auto.commit"] = "false";
  auto rk = make_client(RD_KAFKA_CONSUMER, make_conf(props));

  PartitionListPtr list(rd_kafka_topic_partition_list_new(16));
  for (const auto& t : topics) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), t.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    const auto err = rd_kafka_metadata(rk.get(), 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("cannot read metadata of topic " + t + ": " + rd_kafka_err2str(err));
    }
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (md->topics[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const std::string why = rd_kafka_err2str(md->topics[i].err);
        rd_kafka_metadata_destroy(md);
        throw std::runtime_error("topic " + t + ": " + why);
      }
      for (int p = 0; p < md->topics[i].partition_cnt; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), t.c_str(), md->topics[i].partitions[p].id);
      }
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_partition_list_sort(list.get(), nullptr, nullptr);
  if (auto err = rd_kafka_committed(rk.get(), list.get(), timeout_ms); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("cannot read committed offsets: ") + rd_kafka_err2str(err));
  }
  std::vector<PartitionOffsets> out;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    PartitionOffsets po;
    po.topic = e.topic;
    po.partition = e.partition;
    po.committed = e.offset >= 0 ? e.offset : -1;
    if (auto err = rd_kafka_query_watermark_offsets(rk.get(), e.topic, e.partition, &po.low, &po.high, timeout_ms);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("cannot read watermarks of " + po.topic + "[" + std::to_string(po.partition) +
                               "]: " + rd_kafka_err2str(err));
    }
    out.push_back(po);
  }
  rd_kafka_consumer_close(rk.get());
  return out;
}

}  // namespace sluice::consumer
