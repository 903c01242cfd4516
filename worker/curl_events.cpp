#include "worker/curl_events.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <stdexcept>

#include "shm/clock.hpp"

namespace sluice::worker {

CurlEvents::CurlEvents() : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_) throw std::runtime_error("epoll_create1 failed");
  multi_ = curl_multi_init();
  if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlEvents::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlEvents::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

CurlEvents::~CurlEvents() { curl_multi_cleanup(multi_); }

int CurlEvents::on_socket(CURL*, curl_socket_t s, int what, void* self, void* socketp) {
  auto* me = static_cast<CurlEvents*>(self);
  if (what == CURL_POLL_REMOVE) {
    // A kept-alive connection is removed after each request and comes back with the
    // next: it stays in the set, parked, and leaves it only if it wakes us while parked
    // (act()). One that libcurl closes leaves the set by itself.
    me->parked_.insert(s);
    return 0;
  }
  epoll_event ev{};
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0U) | (what & CURL_POLL_OUT ? EPOLLOUT : 0U);
  ev.data.fd = s;
  // What libcurl keeps for a socket (curl_multi_assign) says whether it is in the set;
  // one it forgot may be parked there. A number reused after a close is neither: the
  // system calls that guess wrong fall through to the next.
  const int epfd = me->epoll_.get();
  const bool known = socketp != nullptr;
  const bool in_set = known || me->parked_.erase(s) != 0;
  const bool ok = (in_set && ::epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev) == 0) || ::epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev) == 0 ||
                  (errno == EEXIST && ::epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev) == 0);
  if (ok && !known) curl_multi_assign(me->multi_, s, me);
  return 0;
}

int CurlEvents::on_timer(CURLM*, long timeout_ms, void* self) {
  auto* me = static_cast<CurlEvents*>(self);
  me->timer_set_ = timeout_ms >= 0;
  me->timer_due_ns_ = shm::monotonic_ns() + static_cast<std::uint64_t>(std::max(timeout_ms, 0L)) * 1'000'000ULL;
  return 0;
}

void CurlEvents::act(int wait_ms) {
  // Never past libcurl's own deadline (a timeout, a connect, a transfer just added: 0).
  if (timer_set_) {
    const std::uint64_t now = shm::monotonic_ns();
    const std::uint64_t left_ms = timer_due_ns_ <= now ? 0 : (timer_due_ns_ - now + 999'999) / 1'000'000;
    wait_ms = static_cast<int>(std::min<std::uint64_t>(static_cast<std::uint64_t>(wait_ms), left_ms));
  }
  std::array<epoll_event, 64> events{};
  const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), wait_ms);
  int running = 0;
  for (int i = 0; i < n; ++i) {
    const int fd = events[static_cast<std::size_t>(i)].data.fd;
    if (parked_.erase(fd) != 0) {
      // libcurl is not watching it (an idle kept-alive connection the server closed,
      // say): out of the set; libcurl finds out when it next looks at the connection.
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      continue;
    }
    const std::uint32_t e = events[static_cast<std::size_t>(i)].events;
    const int mask = (e & EPOLLIN ? CURL_CSELECT_IN : 0) | (e & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                     (e & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(multi_, fd, mask, &running);
  }
  if (timer_set_ && shm::monotonic_ns() >= timer_due_ns_) {
    timer_set_ = false;  // the call sets it again if libcurl wants another
    curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  }
}

CURLMsg* CurlEvents::next_done() {
  int left = 0;
  return curl_multi_info_read(multi_, &left);
}

}  // namespace sluice::worker
