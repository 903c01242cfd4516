#include "worker/http_protocol.hpp"

#include <curl/curl.h>

namespace sluice::worker {

HttpProtocol http_protocol(config::HttpVersion wanted, const std::string& url, unsigned libcurl_version_num) {
  switch (wanted) {
    case config::HttpVersion::kHttp1: return {CURL_HTTP_VERSION_1_1, false};
    case config::HttpVersion::kHttp2: return {CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, true};
    case config::HttpVersion::kAuto: break;
  }
  // Over plain http:// "2TLS" is HTTP/1.1: only prior knowledge would say HTTP/2 there.
  if (libcurl_version_num < kCurlWithoutStrayResets) return {CURL_HTTP_VERSION_1_1, false};
  return {CURL_HTTP_VERSION_2TLS, url.starts_with("https://")};
}

std::string http2_caveat(config::HttpVersion wanted, unsigned libcurl_version_num, const std::string& libcurl_version) {
  if (wanted != config::HttpVersion::kHttp2 || libcurl_version_num >= kCurlWithoutStrayResets) return "";
  return "http_version = \"2\" with libcurl " + libcurl_version +
         ", which resets each HTTP/2 stream it has finished: a server that limits resets (nghttp2, Node) ends the "
         "connection every thousand or so requests, and the request it had taken is sent again as a new attempt. "
         "libcurl 8.1 or later does not; \"auto\" uses HTTP/1.1 with this one";
}

}  // namespace sluice::worker
