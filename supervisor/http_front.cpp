#include "supervisor/http_front.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace sluice::supervisor {
namespace {

Peer address_of(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = {};
  Peer p;
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    p.port = ntohs(a.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &a.sin6_addr, ip, sizeof ip);
    p.port = ntohs(a.sin6_port);
  }
  p.ip = ip;
  return p;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_nocase(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (lower(line[i]) != prefix[i]) return false;
  }
  return true;
}

// What the head says about a body: its length, or -1 for a body we do not take
// (chunked), -2 for a Content-Length that is not a number.
long long body_length(std::string_view head) {
  long long length = 0;
  std::size_t pos = head.find("\r\n");  // past the request line
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const std::size_t start = pos + 2;
    const std::size_t end = head.find("\r\n", start);
    const std::string_view line = head.substr(start, end == std::string_view::npos ? head.npos : end - start);
    if (starts_with_nocase(line, "transfer-encoding:")) return -1;
    if (starts_with_nocase(line, "content-length:")) {
      std::string_view v = line.substr(15);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return -2;
      }
      length = std::stoll(std::string(v));
    }
    pos = end;
  }
  return length;
}

std::string plain_response(int status, const char* reason) {
  const std::string body = std::string("{\"error\": \"") + reason + "\"}\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

HttpFront::HttpFront(const std::string& host, int port, Handler handler) : handler_(std::move(handler)) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    throw std::runtime_error("cannot resolve admin_listen host \"" + host + "\": " + gai_strerror(rc));
  }
  std::string why = "no address";
  for (addrinfo* ai = found; ai != nullptr && listen_fd_ < 0; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    // SO_REUSEADDR lets a restarted daemon bind while old connections sit in TIME_WAIT;
    // it does not let two live sockets share the address (SO_REUSEPORT would).
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof yes);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 64) == 0) {
      listen_fd_ = fd;
    } else {
      why = std::strerror(errno);
      ::close(fd);
    }
  }
  freeaddrinfo(found);
  if (listen_fd_ < 0) throw std::runtime_error(why);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = address_of(bound).port;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    ::close(listen_fd_);
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }
  for (std::size_t i = 0; i < kThreads; ++i) workers_.emplace_back([this] { work(); });
  poller_ = std::thread([this] { loop(); });
}

HttpFront::~HttpFront() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  jobs_cv_.notify_all();
  wake();
  poller_.join();
  for (auto& t : workers_) t.join();
  for (auto& [id, c] : conns_) ::close(c.fd);
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void HttpFront::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void HttpFront::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      jobs_cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::string out;
    try {
      out = handler_(job.request, job.peer, job.local);
    } catch (const std::exception& e) {
      spdlog::error("admin API: {}", e.what());
      out = plain_response(500, "Internal Server Error");
    }
    {
      std::lock_guard lock(mutex_);
      done_.emplace_back(job.id, std::move(out));
    }
    wake();
  }
}

void HttpFront::loop() {
  std::vector<pollfd> fds;
  std::vector<std::uint64_t> ids;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      for (auto& [id, out] : done_) {
        auto it = conns_.find(id);
        if (it == conns_.end()) continue;
        it->second.out = std::move(out);
        it->second.phase = Phase::kWriting;
        it->second.deadline = Clock::now() + kWriteDeadline;
      }
      done_.clear();
    }
    fds.assign({{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}});
    ids.assign({0, 0});
    const auto now = Clock::now();
    auto next = now + std::chrono::seconds(1);
    for (auto it = conns_.begin(); it != conns_.end();) {
      Conn& c = it->second;
      if (c.phase != Phase::kHandling && now >= c.deadline) {
        // Too slow to send its request or to take its answer: the slot goes back.
        ::close(c.fd);
        it = conns_.erase(it);
        continue;
      }
      if (c.phase != Phase::kHandling) {
        next = std::min(next, c.deadline);
        fds.push_back({c.fd, static_cast<short>(c.phase == Phase::kReading ? POLLIN : POLLOUT), 0});
        ids.push_back(it->first);
      }
      ++it;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(wait, 1))) < 0 && errno != EINTR) {
      spdlog::error("admin API: poll: {}", std::strerror(errno));
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const auto n = ::read(wake_fd_, &count, sizeof count);
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto it = conns_.find(ids[i]);
      if (it == conns_.end()) continue;
      if (it->second.phase == Phase::kReading) {
        on_readable(it->first, it->second);
      } else if (it->second.phase == Phase::kWriting) {
        on_writable(it->second);
        if (it->second.written == it->second.out.size() || (fds[i].revents & (POLLERR | POLLHUP)) != 0) close_conn(it->first);
      }
    }
    if ((fds[0].revents & POLLIN) != 0) accept_all();
  }
}

void HttpFront::accept_all() {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN, or out of descriptors: the rest wait in the backlog
    }
    if (conns_.size() >= kMaxConnections) {
      // Drop the oldest connection still sending its request: a flood of idle or slow
      // connections cannot keep a prompt new one (a health check) out.
      auto oldest = conns_.end();
      for (auto it = conns_.begin(); it != conns_.end(); ++it) {
        if (it->second.phase == Phase::kReading && (oldest == conns_.end() || it->second.accepted < oldest->second.accepted)) {
          oldest = it;
        }
      }
      if (oldest == conns_.end()) {
        ::close(fd);
        continue;
      }
      close_conn(oldest->first);
    }
    Conn c;
    c.fd = fd;
    c.deadline = Clock::now() + kRequestDeadline;
    c.accepted = next_id_;
    c.peer = address_of(ss);
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
    c.local = address_of(local);
    conns_.emplace(next_id_++, std::move(c));
  }
}

void HttpFront::on_readable(std::uint64_t id, Conn& c) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      close_conn(id);
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    const std::size_t searched_from = c.in.size() < 3 ? 0 : c.in.size() - 3;
    c.in.append(buf, static_cast<std::size_t>(n));
    if (c.in.size() > kMaxRequestBytes && c.in.find("\r\n\r\n", searched_from) == std::string::npos) {
      return respond_now(c, 431, "Request Header Fields Too Large");
    }
    if (c.in.size() > kMaxRequestBytes * 2) break;  // whatever comes, it is too much; decided below
  }
  const std::size_t head_end = c.in.find("\r\n\r\n");
  if (head_end == std::string::npos) return;
  const std::size_t head_len = head_end + 4;
  const long long body = body_length(std::string_view(c.in).substr(0, head_len));
  if (body == -1) return respond_now(c, 411, "Length Required");
  if (body < 0) return respond_now(c, 400, "Bad Request");
  if (head_len + static_cast<std::size_t>(body) > kMaxRequestBytes) return respond_now(c, 413, "Payload Too Large");
  if (c.in.size() < head_len + static_cast<std::size_t>(body)) return;
  c.in.resize(head_len + static_cast<std::size_t>(body));  // one request per connection: pipelined extras are dropped
  {
    std::lock_guard lock(mutex_);
    if (jobs_.size() >= kMaxQueued) {
      c.out = plain_response(503, "Service Unavailable");
    } else {
      jobs_.push_back(Job{id, std::move(c.in), c.peer, c.local});
      c.phase = Phase::kHandling;
    }
  }
  if (c.phase == Phase::kHandling) {
    jobs_cv_.notify_one();
    return;
  }
  c.phase = Phase::kWriting;
  c.deadline = Clock::now() + kWriteDeadline;
}

void HttpFront::respond_now(Conn& c, int status, const char* reason) {
  c.in.clear();
  c.in.shrink_to_fit();
  c.out = plain_response(status, reason);
  c.written = 0;
  c.phase = Phase::kWriting;
  c.deadline = Clock::now() + kWriteDeadline;
}

void HttpFront::on_writable(Conn& c) {
  while (c.written < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) c.written = c.out.size();  // the peer is gone
      return;
    }
    c.written += static_cast<std::size_t>(n);
  }
}

void HttpFront::close_conn(std::uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  if (it->second.phase == Phase::kWriting) {
    // The answer is complete: tell the peer, then let the kernel deliver what is queued.
    ::shutdown(it->second.fd, SHUT_WR);
  }
  ::close(it->second.fd);
  conns_.erase(it);
}

}  // namespace sluice::supervisor
