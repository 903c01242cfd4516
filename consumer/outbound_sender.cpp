#include "consumer/outbound_sender.hpp"

#include <string>
#include <utility>

namespace sluice::consumer {

OutboundSender::OutboundSender(const config::Lambda& lambda, shm::Stats& stats, Settle settle)
    : lambda_(lambda), stats_(stats), settle_(std::move(settle)) {}

void OutboundSender::send(std::uint64_t leader, std::vector<kafka::OutMessage> messages) {
  if (!producer_) {
    producer_ = std::make_unique<kafka::AckedProducer>(
        lambda_, "out",
        [this](std::uint64_t l) {
          if (invocations_.waiting(l)) shm::bump(stats_.produced);
          settle(invocations_.acked(l));
        },
        [this](std::uint64_t l, kafka::OutMessage m, rd_kafka_resp_err_t err) {
          settle(invocations_.refused(l, "a record it produced to " + m.topic + " was refused: " + rd_kafka_err2str(err)));
        });
  }
  invocations_.sent(leader, messages.size());
  for (auto& m : messages) {
    std::string what = "outbound record to " + m.topic;
    producer_->send(std::move(m), leader, std::move(what));
  }
}

}  // namespace sluice::consumer
