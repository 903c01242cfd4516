// An HTTP/2 endpoint over TLS (h2 chosen by ALPN) for handler_bench's `http2` kind:
// answers every POST at once with 200 and counts its body into the current counters,
// which no Debian-packaged h2 server does. libnghttp2 frames, OpenSSL encrypts; a thread
// per connection is enough, since sluice multiplexes a worker's requests onto one.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_counters.h"

using SSL_CTX = struct ssl_ctx_st;
using nghttp2_option = struct nghttp2_option;

namespace sluice::bench {

class H2Endpoint {
 public:
  // Writes a key and a self-signed certificate for 127.0.0.1 into `dir`. With
  // `reset_limit`, nghttp2's defence against rapid resets (CVE-2023-44487: a burst of
  // 1000 RST_STREAM frames, then 33 a second, before it ends the connection with
  // GOAWAY) stays on, as it is by default in Debian's libnghttp2 (a security update);
  // without, it is lifted, so that what is measured is multiplexing alone.
  H2Endpoint(const std::filesystem::path& dir, bool reset_limit);
  ~H2Endpoint();
  H2Endpoint(const H2Endpoint&) = delete;
  H2Endpoint& operator=(const H2Endpoint&) = delete;
  int port() const { return port_; }
  // The certificate, for the handler's ca_file.
  const std::string& cert() const { return cert_; }
  void count_into(sluice_bench_counters* c) { current_.store(c); }
  // Since it started: connections accepted, and connections it ended with GOAWAY.
  std::uint64_t connections() const { return connections_.load(); }
  std::uint64_t goaways() const { return goaways_.load(); }

 private:
  void accept_loop();
  void serve(int fd);

  std::string cert_;
  SSL_CTX* ctx_ = nullptr;
  nghttp2_option* options_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<sluice_bench_counters*> current_{nullptr};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> goaways_{0};
  std::mutex mu_;
  std::vector<int> open_fds_;  // shut down at the end, so that their threads return
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace sluice::bench
