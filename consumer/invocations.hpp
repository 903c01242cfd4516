// Handler invocations whose outbound records await the broker (shm/records.hpp). A
// handler invoked for several records at once may ask for records to be produced; its
// leader (the invocation's last record) carries them, and every record of the invocation
// (its members) completes only when the broker acknowledged all of them, or fails with
// them when one is refused. The two halves arrive in either order: members are reaped
// before their leader, and acknowledgements come after it. Pure bookkeeping: what
// completing or failing a member means is the consumer's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sluice::consumer {

class Invocations {
 public:
  struct Member {
    std::uint16_t topic_index;
    std::int32_t partition;
    std::int64_t offset;
    std::uint32_t epoch;
  };
  // An invocation that has nothing left to wait for.
  struct Settled {
    std::vector<Member> members;
    std::string refused;  // why one of its records can never be produced; "" if all were acknowledged
  };

  // m completes with `leader`'s invocation.
  void join(std::uint64_t leader, const Member& m) { open_[leader].members.push_back(m); }
  // `leader`'s invocation sent n records to the broker.
  void sent(std::uint64_t leader, std::size_t n) { open_[leader].unacked += n; }
  // One of them was acknowledged; the invocation when it was the last. nullopt also for
  // a leader not known here (a late report).
  std::optional<Settled> acked(std::uint64_t leader);
  // One of them was refused for good, and why.
  std::optional<Settled> refused(std::uint64_t leader, std::string why);
  // `leader` was reaped with nothing to produce: the members that joined it settle now.
  std::optional<Settled> reaped_without_records(std::uint64_t leader);
  // Whether `leader`'s invocation waits for the broker (it completes on acknowledgement).
  bool waiting(std::uint64_t leader) const { return open_.contains(leader); }
  bool empty() const { return open_.empty(); }

 private:
  struct Open {
    std::vector<Member> members;
    std::size_t unacked = 0;
    std::string refused;
  };
  std::optional<Settled> one_less(std::uint64_t leader);

  std::unordered_map<std::uint64_t, Open> open_;  // by leader seq
};

}  // namespace sluice::consumer
