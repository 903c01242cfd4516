#include "h2_endpoint.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <stdexcept>

#include "bench_util.hpp"

namespace sluice::bench {
namespace {

// One connection's session: each open stream's body so far.
struct Session {
  std::atomic<sluice_bench_counters*>* counters;
  std::atomic<std::uint64_t>* goaways;
  std::map<std::int32_t, std::string> bodies;
};

int on_data(nghttp2_session*, std::uint8_t, std::int32_t stream, const std::uint8_t* data, std::size_t len, void* user) {
  static_cast<Session*>(user)->bodies[stream].append(reinterpret_cast<const char*>(data), len);
  return 0;
}

// A request is whole when a frame ends its stream: count it and answer.
int on_frame(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  if ((frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) ||
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
    return 0;
  }
  auto* s = static_cast<Session*>(user);
  const std::string& body = s->bodies[frame->hd.stream_id];
  if (sluice_bench_counters* c = s->counters->load()) {
    const std::uint64_t now = now_ns();
    sluice_bench_mark(c, body.data(), body.size(), now);
    sluice_bench_stamp(c, now);
  }
  static std::uint8_t name[] = ":status";
  static std::uint8_t value[] = "200";
  nghttp2_nv status{name, value, sizeof name - 1, sizeof value - 1, NGHTTP2_NV_FLAG_NONE};
  return nghttp2_submit_response(session, frame->hd.stream_id, &status, 1, nullptr);
}

int on_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type == NGHTTP2_GOAWAY) static_cast<Session*>(user)->goaways->fetch_add(1);
  return 0;
}

int on_close(nghttp2_session*, std::int32_t stream, std::uint32_t, void* user) {
  static_cast<Session*>(user)->bodies.erase(stream);
  return 0;
}

// Everything the session has to send, in one TLS write.
bool flush(nghttp2_session* session, SSL* ssl) {
  std::string out;
  for (;;) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return out.empty() || SSL_write(ssl, out.data(), static_cast<int>(out.size())) == static_cast<int>(out.size());
}

int select_h2(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in, unsigned in_len, void*) {
  static const unsigned char kH2[] = {2, 'h', '2'};
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_len, kH2, sizeof kH2, in, in_len) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // an HTTP/1.1-only client is not what this measures
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

H2Endpoint::H2Endpoint(const std::filesystem::path& dir, bool reset_limit) : cert_((dir / "h2-cert.pem").string()) {
  std::filesystem::create_directories(dir);
  nghttp2_option_new(&options_);
  if (!reset_limit) nghttp2_option_set_stream_reset_rate_limit(options_, UINT64_MAX, UINT64_MAX);
  const std::string key = (dir / "h2-key.pem").string();
  const std::string make_cert = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                                "-addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert_ + " 2>/dev/null";
  if (std::system(make_cert.c_str()) != 0) throw std::runtime_error("openssl could not make a certificate");
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (ctx_ == nullptr || SSL_CTX_use_certificate_chain_file(ctx_, cert_.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error("h2 endpoint: cannot load its certificate");
  }
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_alpn_select_cb(ctx_, select_h2, nullptr);
  listen_fd_ = listen_on_loopback(SOCK_CLOEXEC, 64, port_, "h2 endpoint");
  acceptor_ = std::thread([this] { accept_loop(); });
}

H2Endpoint::~H2Endpoint() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  acceptor_.join();
  ::close(listen_fd_);
  {
    const std::lock_guard lock(mu_);
    for (const int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // wakes SSL_read()
  }
  for (auto& t : threads_) t.join();
  SSL_CTX_free(ctx_);
  nghttp2_option_del(options_);
}

void H2Endpoint::accept_loop() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::lock_guard lock(mu_);
    open_fds_.push_back(fd);
    ++connections_;
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void H2Endpoint::serve(int fd) {
  SSL* ssl = SSL_new(ctx_);
  SSL_set_fd(ssl, fd);
  nghttp2_session* session = nullptr;
  Session state{&current_, &goaways_, {}};
  if (SSL_accept(ssl) == 1) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_send);
    nghttp2_session_server_new2(&session, callbacks, &state, options_);
    nghttp2_session_callbacks_del(callbacks);
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 256}};
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 1);
    char buf[16384];
    while (flush(session, ssl) && (nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0)) {
      const int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0 || nghttp2_session_mem_recv(session, reinterpret_cast<std::uint8_t*>(buf), static_cast<std::size_t>(n)) < 0) break;
    }
    nghttp2_session_del(session);
  }
  SSL_free(ssl);
  ERR_clear_error();
  const std::lock_guard lock(mu_);
  open_fds_.erase(std::ranges::find(open_fds_, fd));
  ::close(fd);
}

}  // namespace sluice::bench
