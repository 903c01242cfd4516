#include "consumer/dead_letters.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace sluice::consumer {
namespace {

constexpr auto kRetryBackoff = std::chrono::seconds(1);

// Consumer-only properties a lambda may carry; a producer would warn about each.
bool consumer_only(const std::string& k) {
  static const char* const kPrefixes[] = {"group.", "session.", "heartbeat.", "fetch.", "auto.", "enable.auto",
                                          "enable.partition.eof", "partition.assignment", "queued.", "max.poll",
                                          "isolation.level", "check.crcs", "max.partition.fetch", "consume.", "offset."};
  for (const char* p : kPrefixes) {
    if (k.starts_with(p)) return true;
  }
  return false;
}

}  // namespace

DeadLetterProducer::DeadLetterProducer(const config::Lambda& lambda, Delivered on_delivered)
    : topic_(lambda.dead_letter_topic), lambda_(lambda.name), on_delivered_(std::move(on_delivered)) {
  std::map<std::string, std::string> props;
  for (const auto& [k, v] : lambda.kafka_properties) {
    if (!consumer_only(k)) props[k] = v;
  }
  props["bootstrap.servers"] = lambda.bootstrap_servers;
  props["client.id"] = "sluice-" + lambda.instance + "-" + lambda.name + "-dlq";
  // Acknowledged means written to all in-sync replicas, exactly once per send.
  props["acks"] = "all";
  props["enable.idempotence"] = "true";
  ConfPtr conf = make_conf(props);
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &DeadLetterProducer::delivery_cb);
  rk_ = make_client(RD_KAFKA_PRODUCER, std::move(conf));
}

DeadLetterProducer::~DeadLetterProducer() {
  // Whatever is not acknowledged by now was never completed, so never committed: the
  // group delivers those records again and they fail into the dead-letter topic anew.
  rd_kafka_flush(rk_.get(), 2000);
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  on_delivered_ = nullptr;
  rd_kafka_poll(rk_.get(), 0);
}

void DeadLetterProducer::send(DeadLetter dl) {
  const std::uint64_t id = next_id_++;
  pending_.emplace(id, std::move(dl));
  produce(id);
}

void DeadLetterProducer::produce(std::uint64_t id) {
  const DeadLetter& dl = pending_.at(id);
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(dl.headers.size() + 5);
  for (const auto& [name, value] : dl.headers) {
    rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), value ? value->data() : nullptr,
                        value ? static_cast<ssize_t>(value->size()) : 0);
  }
  const std::string attempts = std::to_string(dl.attempts);
  const std::string partition = std::to_string(dl.partition);
  const std::string offset = std::to_string(dl.offset);
  for (const auto& [n, v] : {std::pair<const char*, const std::string*>{"sluice-error", &dl.error},
                             {"sluice-attempts", &attempts},
                             {"sluice-source-topic", &dl.source_topic},
                             {"sluice-source-partition", &partition},
                             {"sluice-source-offset", &offset}}) {
    rd_kafka_header_add(hdrs, n, -1, v->data(), static_cast<ssize_t>(v->size()));
  }
  // The RD_KAFKA_V_* macros cast their arguments unparenthesised: pass plain variables.
  const void* key = dl.key ? dl.key->data() : nullptr;
  const std::size_t key_len = dl.key ? dl.key->size() : 0;
  void* value = dl.value ? const_cast<char*>(dl.value->data()) : nullptr;
  const std::size_t value_len = dl.value ? dl.value->size() : 0;
  const auto err = rd_kafka_producev(
      rk_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE(value, value_len),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(id))), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(hdrs);  // not handed over on failure
    spdlog::warn("lambda {}: cannot queue dead letter for {}[{}]@{}: {}; retrying", lambda_, dl.source_topic,
                 dl.partition, dl.offset, rd_kafka_err2str(err));
    retry_.emplace_back(std::chrono::steady_clock::now() + kRetryBackoff, id);
  }
}

void DeadLetterProducer::poll() {
  rd_kafka_poll(rk_.get(), 0);
  const auto now = std::chrono::steady_clock::now();
  while (!retry_.empty() && retry_.front().first <= now) {
    const std::uint64_t id = retry_.front().second;
    retry_.pop_front();
    produce(id);
  }
}

void DeadLetterProducer::delivery_cb(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<DeadLetterProducer*>(opaque);
  const auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(msg->_private));
  auto it = self->pending_.find(id);
  if (it == self->pending_.end()) return;
  if (!self->on_delivered_) {  // shutting down: drop the bookkeeping only
    self->pending_.erase(it);
    return;
  }
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("lambda {}: dead letter for {}[{}]@{} not acknowledged: {}; retrying", self->lambda_,
                 it->second.source_topic, it->second.partition, it->second.offset, rd_kafka_err2str(msg->err));
    self->retry_.emplace_back(std::chrono::steady_clock::now() + kRetryBackoff, id);
    return;
  }
  spdlog::warn("lambda {}: dead-lettered {}[{}]@{} to {} after {} attempt(s): {}", self->lambda_,
               it->second.source_topic, it->second.partition, it->second.offset, self->topic_, it->second.attempts,
               it->second.error);
  self->on_delivered_(it->second);
  self->pending_.erase(it);
}

}  // namespace sluice::consumer
