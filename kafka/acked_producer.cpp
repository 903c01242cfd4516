#include "kafka/acked_producer.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace sluice::kafka {
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

bool is_permanent(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
      return true;
    default:
      return false;
  }
}

AckedProducer::AckedProducer(const config::Lambda& lambda, const std::string& role, Acked on_acked, Rejected on_rejected)
    : lambda_(lambda.name), on_acked_(std::move(on_acked)), on_rejected_(std::move(on_rejected)) {
  std::map<std::string, std::string> props;
  for (const auto& [k, v] : lambda.kafka_properties) {
    if (!consumer_only(k)) props[k] = v;
  }
  props["bootstrap.servers"] = lambda.bootstrap_servers;
  props["client.id"] = "sluice-" + lambda.instance + "-" + lambda.name + "-" + role;
  // Acknowledged means written to all in-sync replicas, exactly once per send.
  props["acks"] = "all";
  props["enable.idempotence"] = "true";
  ConfPtr conf = make_conf(props);
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &AckedProducer::delivery_cb);
  rk_ = make_client(RD_KAFKA_PRODUCER, std::move(conf));
}

AckedProducer::~AckedProducer() {
  // Whatever is not acknowledged by now was never completed, so never committed: the
  // group delivers those source records again and they are produced anew.
  rd_kafka_flush(rk_.get(), 2000);
  rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  on_acked_ = nullptr;
  on_rejected_ = nullptr;
  rd_kafka_poll(rk_.get(), 0);
}

void AckedProducer::send(OutMessage m, std::uint64_t token, std::string what) {
  const std::uint64_t id = next_id_++;
  pending_.emplace(id, Pending{std::move(m), token, std::move(what)});
  produce(id);
}

void AckedProducer::produce(std::uint64_t id) {
  const Pending& p = pending_.at(id);
  const OutMessage& m = p.message;
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(m.headers.size());
  for (const auto& [name, value] : m.headers) {
    rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), value ? value->data() : nullptr,
                        value ? static_cast<ssize_t>(value->size()) : 0);
  }
  // The RD_KAFKA_V_* macros cast their arguments unparenthesised: pass plain variables.
  const void* key = m.key ? m.key->data() : nullptr;
  const std::size_t key_len = m.key ? m.key->size() : 0;
  void* value = m.value ? const_cast<char*>(m.value->data()) : nullptr;
  const std::size_t value_len = m.value ? m.value->size() : 0;
  const std::int32_t partition = m.partition;
  const auto err = rd_kafka_producev(
      rk_.get(), RD_KAFKA_V_TOPIC(m.topic.c_str()), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key_len),
      RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(id))), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(hdrs);  // not handed over on failure
    failed(id, err, "cannot queue");
  }
}

void AckedProducer::failed(std::uint64_t id, rd_kafka_resp_err_t err, const char* stage) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  if (is_permanent(err) && on_rejected_) {
    spdlog::error("lambda {}: {} {}: {}; it can never be produced as it is", lambda_, stage, it->second.what,
                  rd_kafka_err2str(err));
    Pending p = std::move(it->second);
    pending_.erase(it);
    on_rejected_(p.token, std::move(p.message), err);
    return;
  }
  spdlog::warn("lambda {}: {} {}: {}; retrying", lambda_, stage, it->second.what, rd_kafka_err2str(err));
  retry_.emplace_back(std::chrono::steady_clock::now() + kRetryBackoff, id);
}

void AckedProducer::poll() {
  rd_kafka_poll(rk_.get(), 0);
  const auto now = std::chrono::steady_clock::now();
  while (!retry_.empty() && retry_.front().first <= now) {
    const std::uint64_t id = retry_.front().second;
    retry_.pop_front();
    produce(id);
  }
}

void AckedProducer::delivery_cb(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<AckedProducer*>(opaque);
  const auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(msg->_private));
  auto it = self->pending_.find(id);
  if (it == self->pending_.end()) return;
  if (!self->on_acked_) {  // shutting down: drop the bookkeeping only
    self->pending_.erase(it);
    return;
  }
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->failed(id, msg->err, "no acknowledgement for");
    return;
  }
  const std::uint64_t token = it->second.token;
  self->pending_.erase(it);
  self->on_acked_(token);
}

}  // namespace sluice::kafka
