// The supervisor and a lambda's consumer talk over a socketpair the consumer inherits
// (SOCK_SEQPACKET: one message per send, never split). Workers never get it, so nothing
// a handler does can forge these messages, unlike anything written in the segment.
//
// It carries the repair of a ring a worker broke (wrote something no worker of the ring
// protocol writes: a read position out of bounds, a reply that is not a reply, a
// status no record can have):
//   consumer -> supervisor  kQuarantined  I stopped writing this ring and will have its
//                                         records delivered again; kill its worker.
//   supervisor -> consumer  kReset        its worker is dead and both its rings are
//                                         empty again; use it.
//   supervisor -> consumer  kCorrupt      its worker found the ring corrupt and exited;
//                                         quarantine it (then kQuarantined as above).
// and the operator's resume of partitions stopped by on_failure = "stop":
//   supervisor -> consumer  kResume       retry the stopped partitions (all, or the one
//                                         named by topic_index and partition).
//   consumer -> supervisor  kResumed      done; `slot` holds how many were resumed.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <optional>

namespace sluice::shm {

enum class ControlKind : std::uint32_t { kQuarantined = 1, kReset = 2, kCorrupt = 3, kResume = 4, kResumed = 5 };

inline constexpr std::uint32_t kAllTopics = 0xFFFFFFFF;

struct ControlMessage {
  ControlKind kind;
  std::uint32_t slot;  // the worker slot (ring) it is about; kResumed: a count
  std::uint32_t topic_index = kAllTopics;  // kResume: which partitions
  std::int32_t partition = -1;             // -1: every partition of the topic(s)
};

// Exit status of a worker that found its forward ring corrupt (shm::RingReader::corrupt).
inline constexpr int kExitCorruptRing = 66;

inline bool send_control(int fd, ControlMessage m) {
  for (;;) {
    const ssize_t n = ::send(fd, &m, sizeof m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(sizeof m)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

// The next message, or nullopt when there is none now (or the peer is gone, or sent
// something that is not a message).
inline std::optional<ControlMessage> receive_control(int fd) {
  ControlMessage m{};
  for (;;) {
    const ssize_t n = ::recv(fd, &m, sizeof m, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof m)) return std::nullopt;
    return m;
  }
}

}  // namespace sluice::shm
