// What the worker's libcurl clients (the http handler, the schema-registry client) share:
// owned handles and header lists, and one way to set a handle up, so that a setting
// that matters for safety (no signals, no redirects, http and https only) is made once.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace sluice::worker {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using HeaderLines = std::unique_ptr<curl_slist, SlistDeleter>;

// The TLS files a client presents or trusts; "" for each one not configured.
struct TlsFiles {
  const std::string& ca_file;
  const std::string& client_cert;
  const std::string& client_key;
};

// A handle with sluice's settings: no signals (timeouts without SIGALRM in a worker),
// `timeout_ms` per transfer, TCP keep-alive, no redirects (a POST would become a GET,
// credentials would follow to another host), http and https only, the TLS files.
// Throws when libcurl cannot make one (at start-up).
CurlHandle new_curl_handle(long timeout_ms, const TlsFiles& tls);

// Appends "Name: value" (or "Name;" / "Name:", curl's forms for empty and removed). On
// an allocation failure curl leaves the list as it was, and so does this.
void append_header(HeaderLines& list, const std::string& line);

// The start of a response body, for an error message.
std::string excerpt(const std::string& body);

}  // namespace sluice::worker
