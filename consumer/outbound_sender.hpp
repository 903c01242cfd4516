// The records handlers ask to produce (outbound records, shm/records.hpp): produced on
// the consumer's own producer, made on first use, with the invocations that wait for
// their acknowledgement (consumer/invocations.hpp). An invocation settles once the broker
// acknowledged all its records, or one was refused for good; what settling means for
// its members (complete them, or fail them) is the owner's callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "consumer/invocations.hpp"
#include "kafka/acked_producer.hpp"
#include "shm/layout.hpp"

namespace sluice::consumer {

class OutboundSender {
 public:
  using Settle = std::function<void(const Invocations::Settled&)>;
  // stats.produced counts the acknowledged records.
  OutboundSender(const config::Lambda& lambda, shm::Stats& stats, Settle settle);

  // m completes with `leader`'s invocation.
  void join(std::uint64_t leader, const Invocations::Member& m) { invocations_.join(leader, m); }
  // `leader` asked for these records.
  void send(std::uint64_t leader, std::vector<kafka::OutMessage> messages);
  // `leader` was reaped with nothing to produce: the members that joined it settle now.
  void reaped_without_records(std::uint64_t leader) { settle(invocations_.reaped_without_records(leader)); }
  // Whether `leader`'s invocation waits for the broker.
  bool waiting(std::uint64_t leader) const { return invocations_.waiting(leader); }
  // Serves acknowledgements and re-sends.
  void poll() {
    if (producer_) producer_->poll();
  }

 private:
  void settle(std::optional<Invocations::Settled> s) {
    if (s) settle_(*s);
  }

  const config::Lambda& lambda_;
  shm::Stats& stats_;
  Settle settle_;
  Invocations invocations_;
  std::unique_ptr<kafka::AckedProducer> producer_;  // last: its final callbacks use the rest
};

}  // namespace sluice::consumer
