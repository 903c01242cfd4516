#include "consumer/worker_replies.hpp"

#include "shm/headers_codec.hpp"

namespace sluice::consumer {

std::string WorkerReplies::take_one(const shm::ReasonReply& r) {
  reasons_[r.seq].assign(r.reason.substr(0, kMaxReasonBytes));
  return "";
}

std::string WorkerReplies::take_one(const shm::AwaitReply& r) {
  awaiting_[r.seq] = {r.leader_seq, r.attempt};
  return "";
}

std::string WorkerReplies::take_one(const shm::OutboundReply& r) {
  Outbound& o = outbound_[r.seq];
  if (o.attempt != r.attempt) {  // a redelivery's answer replaces the earlier one
    o.attempt = r.attempt;
    o.messages.clear();
  }
  if (o.messages.size() >= kMaxOutboundPerInvocation) {
    return "more than " + std::to_string(kMaxOutboundPerInvocation) + " outbound records for one invocation";
  }
  kafka::OutMessage m{std::string(r.topic), r.partition < 0 ? RD_KAFKA_PARTITION_UA : r.partition, std::nullopt, std::nullopt, {}};
  if (r.key != nullptr) m.key.emplace(r.key, r.key_len);
  if (r.value != nullptr) m.value.emplace(r.value, r.value_len);
  const bool ok = shm::for_each_header(r.headers, r.headers_len, [&](const shm::HeaderView& hv) {
    m.headers.push_back(kafka::make_header(hv.name, hv.value, hv.value_len));
  });
  if (!ok) return "an outbound record whose headers are malformed";
  o.messages.push_back(std::move(m));
  return "";
}

WorkerReplies::Outcome WorkerReplies::take_outcome(std::uint64_t seq, std::uint32_t attempt, bool ok) {
  Outcome out;
  if (auto it = reasons_.find(seq); it != reasons_.end()) {
    out.reason = std::move(it->second);
    reasons_.erase(it);
  }
  if (auto it = awaiting_.find(seq); it != awaiting_.end()) {
    if (it->second.attempt == attempt) out.leader = it->second.leader;
    awaiting_.erase(it);
  }
  if (auto it = outbound_.find(seq); it != outbound_.end()) {
    if (it->second.attempt == attempt && ok) out.produce = std::move(it->second.messages);
    outbound_.erase(it);
  }
  return out;
}

void WorkerReplies::forget(std::uint64_t seq) {
  reasons_.erase(seq);
  outbound_.erase(seq);
  awaiting_.erase(seq);
}

}  // namespace sluice::consumer
