#include "delayed_endpoint.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <deque>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bench_util.hpp"

namespace sluice::bench {
namespace {

// What one connection has read of its current request.
struct Connection {
  std::string in;
  std::uint64_t id = 0;  // fds are reused: an answer goes only to the connection it is for
};

// The body length a request's headers announce; 0 without Content-Length.
std::size_t content_length(std::string_view headers) {
  std::string lower(headers);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const auto at = lower.find("\r\ncontent-length:");
  if (at == std::string::npos) return 0;
  return std::stoul(lower.substr(at + 17));
}

}  // namespace

DelayedEndpoint::DelayedEndpoint(int delay_ms) : delay_ns_(static_cast<std::uint64_t>(delay_ms) * 1'000'000ULL) {
  listen_fd_ = listen_on_loopback(SOCK_NONBLOCK | SOCK_CLOEXEC, 1024, port_, "delayed endpoint");
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  for (const int fd : {listen_fd_, stop_fd_}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  thread_ = std::thread([this] { serve(); });
}

DelayedEndpoint::~DelayedEndpoint() {
  const std::uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  thread_.join();
  for (const int fd : {listen_fd_, epoll_fd_, stop_fd_}) ::close(fd);
}

void DelayedEndpoint::serve() {
  static constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  std::map<int, Connection> conns;
  // The delay is the same for every request, so answers fall due in the order their
  // requests arrived: a queue, not a heap.
  struct Due {
    std::uint64_t at_ns;
    int fd;
    std::uint64_t id;
    std::string body;
  };
  std::uint64_t next_id = 0;
  std::deque<Due> due;
  std::array<epoll_event, 256> events{};
  for (;;) {
    // A timeout in nanoseconds: epoll_wait's whole milliseconds, rounded up, would add
    // half a millisecond to the 10 on average, and the benchmark would measure that.
    timespec wait{};
    timespec* timeout = nullptr;
    if (!due.empty()) {
      const std::uint64_t now = now_ns();
      const std::uint64_t left = due.front().at_ns <= now ? 0 : due.front().at_ns - now;
      wait.tv_sec = static_cast<time_t>(left / 1'000'000'000ULL);
      wait.tv_nsec = static_cast<long>(left % 1'000'000'000ULL);
      timeout = &wait;
    }
    const int n = ::epoll_pwait2(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout, nullptr);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == stop_fd_) {
        for (const auto& [c, conn] : conns) ::close(c);
        return;
      }
      if (fd == listen_fd_) {
        for (int c; (c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          const int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = c;
          ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c, &ev);
          conns[c].id = ++next_id;
        }
        continue;
      }
      Connection& conn = conns[fd];
      char buf[16384];
      ssize_t got = 0;
      while ((got = ::read(fd, buf, sizeof buf)) > 0) conn.in.append(buf, static_cast<std::size_t>(got));
      if (got == 0 || (got < 0 && errno != EAGAIN)) {
        ::close(fd);  // an answer still due to it is written to nothing
        conns.erase(fd);
        continue;
      }
      // One request at a time per connection (the client waits for each answer).
      const auto end = conn.in.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      const std::size_t body_len = content_length(std::string_view(conn.in).substr(0, end + 2));
      if (conn.in.size() < end + 4 + body_len) continue;
      due.push_back({now_ns() + delay_ns_, fd, conn.id, conn.in.substr(end + 4, body_len)});
      conn.in.erase(0, end + 4 + body_len);
    }
    const std::uint64_t now = now_ns();
    while (!due.empty() && due.front().at_ns <= now) {
      Due& d = due.front();
      if (const auto it = conns.find(d.fd); it != conns.end() && it->second.id == d.id) {
        if (sluice_bench_counters* c = current_.load()) {
          sluice_bench_mark(c, d.body.data(), d.body.size(), now);
          sluice_bench_stamp(c, now);
        }
        // 38 bytes into an empty socket buffer (the client sent nothing since): whole.
        (void)!::write(d.fd, kOk.data(), kOk.size());
      }
      due.pop_front();
    }
  }
}

}  // namespace sluice::bench
