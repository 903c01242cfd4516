// The admin API's connections, with every limit an unauthenticated peer could push on.
//
// cpp-httplib 0.11 (Debian bookworm's) reads request headers without a bound on their
// number and gives each connection a pool thread for as long as the peer keeps sending:
// 200 MB of headers grew the supervisor by 300 MB, and four slow clients held /healthz
// off for as long as they liked. So connections are accepted and read here, on one
// thread with poll, until a whole request (head and body) is buffered — at most
// kMaxRequestBytes, within kRequestDeadline of the accept — and only then handed to a
// small pool that runs cpp-httplib's own request handling over the buffered bytes. The
// answer is buffered too and written back by the poll thread, so a peer that sends or
// reads slowly costs a connection slot, never a thread. One request per connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::supervisor {

struct Peer {
  std::string ip;
  int port = 0;
};

class HttpFront {
 public:
  static constexpr std::size_t kMaxRequestBytes = 16 * 1024;  // head and body: admin requests are tiny
  static constexpr auto kRequestDeadline = std::chrono::seconds(2);
  static constexpr auto kWriteDeadline = std::chrono::seconds(10);
  static constexpr std::size_t kMaxConnections = 256;  // then the oldest still being read is dropped
  static constexpr std::size_t kThreads = 4;
  static constexpr std::size_t kMaxQueued = 64;  // complete requests waiting for a thread; then 503

  // Takes the raw bytes of one request and returns the raw bytes of its response.
  using Handler = std::function<std::string(const std::string& request, const Peer& peer, const Peer& local)>;

  // Binds host:port (port 0 picks one) without SO_REUSEPORT, so a second daemon on the
  // same address fails here instead of sharing the port. Throws with a message.
  HttpFront(const std::string& host, int port, Handler handler);
  ~HttpFront();
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  int port() const { return port_; }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase { kReading, kHandling, kWriting };
  struct Conn {
    int fd = -1;
    Phase phase = Phase::kReading;
    Clock::time_point deadline;
    std::uint64_t accepted = 0;  // order of acceptance, for dropping the oldest
    std::string in;
    std::string out;
    std::size_t written = 0;
    Peer peer;
    Peer local;
  };
  struct Job {
    std::uint64_t id;
    std::string request;
    Peer peer;
    Peer local;
  };

  void loop();
  void work();
  void accept_all();
  void on_readable(std::uint64_t id, Conn& c);
  void on_writable(Conn& c);
  void respond_now(Conn& c, int status, const char* reason);
  void close_conn(std::uint64_t id);
  void wake();

  Handler handler_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, Conn> conns_;  // poll thread only

  std::mutex mutex_;
  std::condition_variable jobs_cv_;
  std::deque<Job> jobs_;
  std::vector<std::pair<std::uint64_t, std::string>> done_;  // answers for the poll thread
  bool stopping_ = false;

  std::vector<std::thread> workers_;
  std::thread poller_;
};

}  // namespace sluice::supervisor
