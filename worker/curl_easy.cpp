#include "worker/curl_easy.hpp"

#include <stdexcept>

namespace sluice::worker {

CurlHandle new_curl_handle(long timeout_ms, const TlsFiles& tls) {
  CurlHandle handle(curl_easy_init());
  if (!handle) throw std::runtime_error("curl_easy_init failed");
  CURL* c = handle.get();
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "sluice");
  if (!tls.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.client_cert.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, tls.client_cert.c_str());
  if (!tls.client_key.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, tls.client_key.c_str());
  return handle;
}

void append_header(HeaderLines& list, const std::string& line) {
  if (curl_slist* next = curl_slist_append(list.get(), line.c_str()); next != nullptr) {
    (void)list.release();  // `next` is the same list, grown
    list.reset(next);
  }
}

std::string excerpt(const std::string& body) {
  constexpr std::size_t kMax = 200;
  return body.size() <= kMax ? body : body.substr(0, kMax) + "...";
}

}  // namespace sluice::worker
