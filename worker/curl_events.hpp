// A libcurl multi handle driven by its sockets (curl_multi_socket_action over epoll)
// rather than by curl_multi_perform and curl_multi_poll. Those two look at every
// transfer and every socket on each call, so with max_concurrency requests in flight a
// worker paid for all of them each time any one made progress (at 64 in flight, about a
// fifth more CPU per request than this; with one in flight, this costs ~3 µs more:
// docs/benchmarks.md). Here a wake-up costs only the sockets that have something to say.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <unordered_set>

#include "shm/unique_fd.hpp"

namespace sluice::worker {

class CurlEvents {
 public:
  // Throws when libcurl or epoll cannot make its handle (at start-up).
  CurlEvents();
  ~CurlEvents();
  CurlEvents(const CurlEvents&) = delete;
  CurlEvents& operator=(const CurlEvents&) = delete;

  CURLM* multi() const { return multi_; }
  // Waits up to `wait_ms` (or until libcurl's own next deadline, if sooner: at once
  // after a transfer was added) for sockets that can move on, and lets libcurl act on
  // them and on its timer if it is due.
  void act(int wait_ms);
  // The next transfer that ended (nullptr when none): as curl_multi_info_read.
  CURLMsg* next_done();

 private:
  static int on_socket(CURL* easy, curl_socket_t s, int what, void* self, void* socketp);
  static int on_timer(CURLM* multi, long timeout_ms, void* self);

  shm::UniqueFd epoll_;  // outlives multi_: cleaning the multi handle up calls on_socket
  CURLM* multi_ = nullptr;
  std::unordered_set<curl_socket_t> parked_;  // in the epoll set, not watched by libcurl
  bool timer_set_ = false;  // whether libcurl asked to be called back at timer_due_ns_
  std::uint64_t timer_due_ns_ = 0;
};

}  // namespace sluice::worker
