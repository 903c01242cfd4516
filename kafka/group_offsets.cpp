#include "kafka/group_offsets.hpp"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "kafka/kafka_handles.hpp"
#include "kafka/watermarks.hpp"

namespace sluice::kafka {

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
  std::vector<Watermarks> marks;
  marks.reserve(static_cast<std::size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) marks.push_back({list->elems[i].topic, list->elems[i].partition});
  if (auto err = query_watermarks(rk.get(), marks, timeout_ms); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("cannot read the partitions' watermarks: ") + rd_kafka_err2str(err));
  }
  std::vector<PartitionOffsets> out;
  for (int i = 0; i < list->cnt; ++i) {
    PartitionOffsets po;
    po.topic = marks[static_cast<std::size_t>(i)].topic;
    po.partition = marks[static_cast<std::size_t>(i)].partition;
    po.committed = list->elems[i].offset >= 0 ? list->elems[i].offset : -1;
    po.low = marks[static_cast<std::size_t>(i)].low;
    po.high = marks[static_cast<std::size_t>(i)].high;
    out.push_back(po);
  }
  rd_kafka_consumer_close(rk.get());
  return out;
}

std::vector<PartitionReset> plan_reset(const std::map<std::string, std::string>& client_properties,
                                       const std::string& group_id, const std::vector<std::string>& topics,
                                       const ResetTarget& target, const std::string& only_topic,
                                       std::int32_t only_partition, int timeout_ms) {
  std::vector<PartitionReset> plan;
  for (const auto& now : group_offsets(client_properties, group_id, topics, timeout_ms)) {
    if (!only_topic.empty() && now.topic != only_topic) continue;
    if (only_partition >= 0 && now.partition != only_partition) continue;
    plan.push_back({now, -1});
  }
  if (target.kind == ResetTarget::Kind::kDatetime && !plan.empty()) {
    auto props = client_properties;
    props["group.id"] = group_id;
    auto rk = make_client(RD_KAFKA_CONSUMER, make_conf(props));
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(plan.size())));
    for (const auto& p : plan) {
      rd_kafka_topic_partition_list_add(list.get(), p.now.topic.c_str(), p.now.partition)->offset = target.value;
    }
    if (auto err = rd_kafka_offsets_for_times(rk.get(), list.get(), timeout_ms); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(std::string("cannot look up offsets by time: ") + rd_kafka_err2str(err));
    }
    for (auto& p : plan) {
      const auto* e = rd_kafka_topic_partition_list_find(list.get(), p.now.topic.c_str(), p.now.partition);
      // -1: no record at or after that time, so the end of the partition.
      p.target = e == nullptr || e->offset < 0 ? p.now.high : e->offset;
    }
    rd_kafka_consumer_close(rk.get());
  }
  for (auto& p : plan) {
    const std::int64_t from = p.now.committed >= 0 ? p.now.committed : p.now.low;
    switch (target.kind) {
      case ResetTarget::Kind::kEarliest: p.target = p.now.low; break;
      case ResetTarget::Kind::kLatest: p.target = p.now.high; break;
      case ResetTarget::Kind::kOffset: p.target = target.value; break;
      case ResetTarget::Kind::kShift: p.target = from + target.value; break;
      case ResetTarget::Kind::kDatetime: break;
    }
    p.target = std::clamp(p.target, p.now.low, p.now.high);
  }
  return plan;
}

int group_members(const std::map<std::string, std::string>& client_properties, const std::string& group_id,
                  int timeout_ms) {
  auto rk = make_client(RD_KAFKA_PRODUCER, make_conf(client_properties));
  const rd_kafka_group_list* groups = nullptr;
  if (rd_kafka_list_groups(rk.get(), group_id.c_str(), &groups, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
  int members = 0;
  for (int i = 0; i < groups->group_cnt; ++i) {
    if (group_id == groups->groups[i].group) members += groups->groups[i].member_cnt;
  }
  rd_kafka_group_list_destroy(groups);
  return members;
}

void commit_reset(const std::map<std::string, std::string>& client_properties, const std::string& group_id,
                  const std::vector<PartitionReset>& plan, int timeout_ms) {
  if (plan.empty()) return;
  // The commit is made as a member of the group: a broker takes a commit from outside
  // only while the group is empty, and librdkafka's mock cluster not even then. The
  // caller has checked that no one else is in the group; joining it alone takes every
  // partition. Nothing is consumed: auto commit is off and fetched messages are dropped.
  auto props = client_properties;
  props["group.id"] = group_id;
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  auto rk = make_client(RD_KAFKA_CONSUMER, make_conf(props));
  rd_kafka_poll_set_consumer(rk.get());
  std::vector<std::string> topics;
  for (const auto& p : plan) {
    if (std::find(topics.begin(), topics.end(), p.now.topic) == topics.end()) topics.push_back(p.now.topic);
  }
  PartitionListPtr subscription(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& t : topics) rd_kafka_topic_partition_list_add(subscription.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(rk.get(), subscription.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("cannot join group ") + group_id + ": " + rd_kafka_err2str(err));
  }
  auto holds_all = [&] {
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk.get(), &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    PartitionListPtr owned(assigned);
    return std::all_of(plan.begin(), plan.end(), [&](const PartitionReset& p) {
      return rd_kafka_topic_partition_list_find(owned.get(), p.now.topic.c_str(), p.now.partition) != nullptr;
    });
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!holds_all()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      rd_kafka_consumer_close(rk.get());
      throw std::runtime_error("could not take every partition of group " + group_id + " within " +
                               std::to_string(timeout_ms) + " ms; is another member in it?");
    }
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100)) rd_kafka_message_destroy(m);
  }
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(plan.size())));
  for (const auto& p : plan) {
    rd_kafka_topic_partition_list_add(list.get(), p.now.topic.c_str(), p.now.partition)->offset = p.target;
  }
  const auto err = rd_kafka_commit(rk.get(), list.get(), 0);
  std::string failed;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) failed = rd_kafka_err2str(err);
  for (int i = 0; i < list->cnt && failed.empty(); ++i) {
    if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failed = std::string(list->elems[i].topic) + "[" + std::to_string(list->elems[i].partition) +
               "]: " + rd_kafka_err2str(list->elems[i].err);
    }
  }
  rd_kafka_consumer_close(rk.get());
  if (!failed.empty()) throw std::runtime_error("the broker refused the new offsets: " + failed);
}

std::optional<std::int64_t> parse_datetime_ms(const std::string& text) {
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (text.size() > 15) return std::nullopt;
    return std::stoll(text);
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  char sep = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &s, &used) != 7 ||
      (sep != 'T' && sep != ' ') || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  std::string rest = text.substr(static_cast<std::size_t>(used));
  std::int64_t ms = 0;
  if (!rest.empty() && rest[0] == '.') {
    std::size_t i = 1;
    std::int64_t scale = 100;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) {
      ms += (rest[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == 1) return std::nullopt;
    rest = rest.substr(i);
  }
  std::int64_t offset_s = 0;
  if (rest == "Z" || rest.empty()) {
  } else if ((rest[0] == '+' || rest[0] == '-') && rest.size() == 6 && rest[3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(rest.c_str() + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (rest[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::int64_t epoch = timegm(&tm);
  return (epoch - offset_s) * 1000 + ms;
}

}  // namespace sluice::kafka
