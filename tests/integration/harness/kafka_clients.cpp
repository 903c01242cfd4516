#include "harness/kafka_clients.hpp"

#include <algorithm>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "kafka/group_offsets.hpp"

namespace sluice::test {

std::string seq_value_prefix(std::uint64_t seq) { return "s" + std::to_string(seq) + "-"; }

void produce(const std::string& bootstrap, const std::string& topic, int partitions, std::uint64_t first,
             std::uint64_t count, std::size_t value_bytes, int keys, std::uint64_t big_seq, std::size_t big_bytes,
             const std::function<std::string(std::uint64_t)>& value_of,
             const std::function<std::int64_t(std::uint64_t)>& timestamp_ms_of) {
  auto rk = kafka::make_client(RD_KAFKA_PRODUCER, kafka::make_conf({{"bootstrap.servers", bootstrap},
                                                                        {"linger.ms", "5"},
                                                                        {"acks", "all"},
                                                                        {"log_level", "3"}}));
  for (std::uint64_t s = first; s < first + count; ++s) {
    std::string value = value_of ? value_of(s) : seq_value_prefix(s);
    const std::size_t want = s == big_seq ? big_bytes : value_bytes;
    if (!value_of && value.size() < want) value.append(want - value.size(), 'x');
    const std::string key = "k" + std::to_string(s % static_cast<std::uint64_t>(keys));
    const std::string seq = std::to_string(s);
    const std::int64_t timestamp_ms = timestamp_ms_of ? timestamp_ms_of(s) : 0;  // 0: librdkafka's clock
    for (;;) {
      const auto err = rd_kafka_producev(
          rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(static_cast<int32_t>(s % partitions)),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_HEADER("seq", seq.data(), static_cast<ssize_t>(seq.size())), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(err));
      rd_kafka_poll(rk.get(), 10);
    }
    rd_kafka_poll(rk.get(), 0);
  }
  if (rd_kafka_flush(rk.get(), 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("produce: flush timed out");
}

void produce_exact(const std::string& bootstrap, const std::string& topic, int partition, std::optional<std::string> key,
                   const std::string& value, const std::vector<std::pair<std::string, std::optional<std::string>>>& headers) {
  auto rk = kafka::make_client(RD_KAFKA_PRODUCER, kafka::make_conf({{"bootstrap.servers", bootstrap}, {"acks", "all"}}));
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
  for (const auto& [name, v] : headers) {
    rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), v ? v->data() : nullptr,
                        v ? static_cast<ssize_t>(v->size()) : 0);
  }
  void* key_bytes = key ? key->data() : nullptr;
  const std::size_t key_len = key ? key->size() : 0;
  const auto err = rd_kafka_producev(rk.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                     RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                     RD_KAFKA_V_KEY(key_bytes, key_len),
                                     RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(hdrs);  // owned by the message only when producev succeeds
    throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(err));
  }
  if (rd_kafka_flush(rk.get(), 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("produce: flush timed out");
}

kafka::KafkaPtr group_member(const std::string& bootstrap, const std::string& group, const std::string& topic,
                             std::atomic<int>* sync_refusals) {
  std::map<std::string, std::string> props{{"bootstrap.servers", bootstrap},
                                           {"group.id", group},
                                           {"enable.auto.commit", "false"},
                                           {"partition.assignment.strategy", "cooperative-sticky"},
                                           {"session.timeout.ms", "6000"},
                                           {"heartbeat.interval.ms", "500"},
                                           {"fetch.wait.max.ms", "10"},
                                           {"log_level", "3"}};
  if (sync_refusals != nullptr) {
    // The SyncGroup answer is only in librdkafka's group debug lines.
    props["debug"] = "cgrp";
    props["log_level"] = "7";
  }
  kafka::ConfPtr conf = kafka::make_conf(props);
  if (sync_refusals != nullptr) {
    rd_kafka_conf_set_opaque(conf.get(), sync_refusals);
    rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t* rk, int, const char*, const char* text) {
      constexpr std::string_view kAnswer = "SyncGroup response: ";
      const std::string_view line(text);
      if (const auto at = line.find(kAnswer); at != std::string_view::npos && !line.substr(at + kAnswer.size()).starts_with("Success")) {
        static_cast<std::atomic<int>*>(rd_kafka_opaque(rk))->fetch_add(1);
      }
    });
  }
  auto rk = kafka::make_client(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(rk.get());
  kafka::PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(rk.get(), topics.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error("subscribe failed");
  return rk;
}

std::uint64_t seq_of(const std::string& value) { return std::stoull(value.substr(1, value.find('-') - 1)); }

std::pair<int, std::int64_t> where(std::uint64_t seq, int partitions) {
  const auto p = static_cast<std::uint64_t>(partitions);
  return {static_cast<int>(seq % p), static_cast<std::int64_t>(seq / p)};
}

LoadProducer::LoadProducer(std::string bootstrap, Shape shape)
    : bootstrap_(std::move(bootstrap)), shape_(std::move(shape)), produced_(shape_.first_seq), thread_([this] {
        try {
          while (!stop_.load()) {
            produce(bootstrap_, shape_.topic, shape_.partitions, produced_.load(), shape_.per_batch, shape_.value_bytes);
            produced_.fetch_add(shape_.per_batch);
            std::this_thread::sleep_for(shape_.every);
          }
        } catch (const std::exception& e) {
          error_ = e.what();  // read after join
        }
      }) {}

LoadProducer::~LoadProducer() { finish(); }

std::uint64_t LoadProducer::finish() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  return produced_.load();
}

std::vector<TopicMessage> read_topic(const std::string& bootstrap, const std::string& topic, std::size_t count,
                                     std::chrono::milliseconds limit) {
  auto rk = kafka::make_client(RD_KAFKA_CONSUMER, kafka::make_conf({{"bootstrap.servers", bootstrap},
                                                                        {"group.id", "sluice-test-reader"},
                                                                        {"enable.auto.commit", "false"},
                                                                        {"fetch.wait.max.ms", "10"},
                                                                        {"log_level", "3"}}));
  int partitions = 0;
  {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk.get(), 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1) partitions = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
  }
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk.get(), list.get());
  std::vector<TopicMessage> out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    kafka::MessagePtr m(rd_kafka_consumer_poll(rk.get(), 50));
    if (!m || m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    // Built whole: GCC 12 takes an emplace() into a fresh optional for a read of
    // uninitialised memory (-Wmaybe-uninitialized, with the sanitizers' inlining).
    auto text = [](const void* p, std::size_t n) {
      return p == nullptr ? std::nullopt : std::optional<std::string>(std::in_place, static_cast<const char*>(p), n);
    };
    TopicMessage t{.partition = m->partition,
                   .offset = m->offset,
                   .key = text(m->key, m->key_len),
                   .value = text(m->payload, m->len),
                   .headers = {}};
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      std::size_t size = 0;
      for (std::size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        t.headers[name] = value == nullptr ? "" : std::string(static_cast<const char*>(value), size);
        t.header_list.emplace_back(name, value == nullptr ? std::nullopt
                                                          : std::optional<std::string>(std::string(static_cast<const char*>(value), size)));
      }
    }
    out.push_back(std::move(t));
  }
  rd_kafka_assign(rk.get(), nullptr);
  return out;
}

std::map<int, std::int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                              const std::string& topic, int timeout_ms) {
  std::map<int, std::int64_t> out;
  for (const auto& p : kafka::group_offsets({{"bootstrap.servers", bootstrap}, {"log_level", "3"}}, group, {topic}, timeout_ms)) {
    out[p.partition] = p.committed;
  }
  return out;
}

bool committed_to_end(const std::string& bootstrap, const std::string& group, std::uint64_t produced, int partitions,
                      const std::string& topic) {
  return committed_or_empty(bootstrap, group, topic) == end_offsets(produced, partitions);
}

std::map<int, std::int64_t> end_offsets(std::uint64_t produced, int partitions) {
  std::map<int, std::int64_t> end;
  const auto parts = static_cast<std::uint64_t>(partitions);
  for (std::uint64_t p = 0; p < parts; ++p) {
    end[static_cast<int>(p)] = static_cast<std::int64_t>(produced / parts + (p < produced % parts ? 1 : 0));
  }
  return end;
}

std::map<int, std::int64_t> committed_or_empty(const std::string& bootstrap, const std::string& group,
                                               const std::string& topic) {
  try {
    return committed_offsets(bootstrap, group, topic);
  } catch (const std::exception&) {
    return {};
  }
}

std::int64_t committed_sum(const std::string& bootstrap, const std::string& group, const std::string& topic) {
  std::int64_t sum = 0;
  for (const auto& [p, c] : committed_or_empty(bootstrap, group, topic)) sum += std::max<std::int64_t>(c, 0);
  return sum;
}

}  // namespace sluice::test
