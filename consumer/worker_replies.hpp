// What workers said in their reply rings about records still in flight, kept until each
// record completes: a failure reason, the outbound records an invocation asked for (by
// its leader), and the leader whose acknowledgement a record's outcome waits for. The
// forward ring carries a record's status; this is where the reply ring's half of the
// same outcome waits for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "kafka/acked_producer.hpp"
#include "shm/records.hpp"

namespace sluice::consumer {

class WorkerReplies {
 public:
  // Bounds on what one worker can make the consumer hold for one record.
  static constexpr std::size_t kMaxReasonBytes = 4096;
  static constexpr std::size_t kMaxOutboundPerInvocation = 100'000;

  // Takes one reply. `in_flight(seq)` says whether the record it names is in flight on
  // the reply's ring (a worker replies only about records it has not released). Returns
  // why this is not a reply a worker of the protocol writes, or "" when taken.
  template <typename InFlight>
  std::string take(const shm::Reply& reply, InFlight&& in_flight);

  struct Outcome {
    std::string reason;                   // the worker's failure reason; "" if none
    std::optional<std::uint64_t> leader;  // completes with that leader's invocation
    std::vector<kafka::OutMessage> produce;      // to produce before it completes
  };
  // Everything said about record `seq`, whose outcome the worker wrote at `attempt`
  // with status ok (`ok`) or not; forgotten here. What an earlier attempt said (a worker
  // that crashed mid-invocation) is dropped, and a failed record produces nothing.
  Outcome take_outcome(std::uint64_t seq, std::uint32_t attempt, bool ok);
  void forget(std::uint64_t seq);
  bool empty() const { return reasons_.empty() && outbound_.empty() && awaiting_.empty(); }

 private:
  std::string take_one(const shm::ReasonReply& r);
  std::string take_one(const shm::AwaitReply& r);
  std::string take_one(const shm::OutboundReply& r);

  struct Outbound {
    std::uint32_t attempt = 0;  // of the leader's invocation that asked for them
    std::vector<kafka::OutMessage> messages;
  };
  struct Await {
    std::uint64_t leader;
    std::uint32_t attempt;
  };
  std::unordered_map<std::uint64_t, std::string> reasons_;  // by record seq
  std::unordered_map<std::uint64_t, Outbound> outbound_;    // by leader seq
  std::unordered_map<std::uint64_t, Await> awaiting_;       // by record seq
};

template <typename InFlight>
std::string WorkerReplies::take(const shm::Reply& reply, InFlight&& in_flight) {
  return std::visit(
      [&](const auto& r) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(r)>, shm::BadReply>) {
          return r.why;
        } else {
          if (!in_flight(r.seq)) return "a reply about seq " + std::to_string(r.seq) + ", not in flight there";
          return take_one(r);
        }
      },
      reply);
}

}  // namespace sluice::consumer
