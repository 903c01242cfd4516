// Which HTTP version the http handler asks libcurl for, given the lambda's http_version,
// its url and the libcurl it runs with.
#pragma once

#include <string>

#include "config/config.hpp"

namespace sluice::worker {

// libcurl before 8.1 resets (RST_STREAM) nearly every HTTP/2 stream it has finished
// reading, even a cleanly closed one; servers that defend against reset floods (nghttp2's
// own limit, Node's http2) answer by ending the connection every thousand or so
// requests, and the request they had taken but not answered fails and costs its record
// an attempt. 8.1.0 rewrote its HTTP/2 stream handling and sends none.
inline constexpr unsigned kCurlWithoutStrayResets = 0x080100;
// libcurl before 7.89 fails every request after the first on a reused prior-knowledge
// connection over plain http:// (h2c; curl issue 10634).
inline constexpr unsigned kCurlReusingH2c = 0x075900;

struct HttpProtocol {
  long curl_version;   // CURLOPT_HTTP_VERSION
  bool may_multiplex;  // HTTP/2 may be chosen: a request waits for a shared connection
};

// "auto" is HTTP/2 when the TLS handshake offers it, with a libcurl that keeps HTTP/2
// connections; otherwise HTTP/1.1. "2" is HTTP/2 always (prior knowledge), "1.1" never.
HttpProtocol http_protocol(config::HttpVersion wanted, const std::string& url, unsigned libcurl_version_num);

// Said once at start when the operator asked for HTTP/2 with a libcurl that resets its
// streams (empty otherwise): the cost must not come as a surprise.
std::string http2_caveat(config::HttpVersion wanted, unsigned libcurl_version_num, const std::string& libcurl_version);

}  // namespace sluice::worker
