// An HTTP/1.1 endpoint for handler_bench's `http-slow` kind: answers every POST after a
// fixed delay, as an endpoint doing real work elsewhere would, counting each body into
// the current counters when it answers. One epoll thread serves every connection, so
// the endpoint is not what limits many requests in flight: a thread-per-connection
// server (cpp-httplib) serving 64 connections on two cores lost half its throughput to
// itself (docs/benchmarks.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "bench_counters.h"

namespace sluice::bench {

class DelayedEndpoint {
 public:
  explicit DelayedEndpoint(int delay_ms);
  ~DelayedEndpoint();
  DelayedEndpoint(const DelayedEndpoint&) = delete;
  DelayedEndpoint& operator=(const DelayedEndpoint&) = delete;
  int port() const { return port_; }
  void count_into(sluice_bench_counters* c) { current_.store(c); }

 private:
  void serve();

  const std::uint64_t delay_ns_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd: written to end serve()
  int port_ = 0;
  std::atomic<sluice_bench_counters*> current_{nullptr};
  std::thread thread_;
};

}  // namespace sluice::bench
