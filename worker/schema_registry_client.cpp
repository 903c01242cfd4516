#include "worker/schema_registry_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace sluice::worker {

namespace {

// A schema is text of kilobytes; a registry (or something posing as one) sending more
// than this is not answering the question.
constexpr std::size_t kMaxAnswer = 16 << 20;

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  const std::size_t len = size * n;
  if (s->size() + len > kMaxAnswer) return 0;  // curl fails the transfer (CURLE_WRITE_ERROR)
  s->append(data, len);
  return len;
}

std::string excerpt(const std::string& body) {
  constexpr std::size_t kMax = 200;
  return body.size() <= kMax ? body : body.substr(0, kMax) + "...";
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

struct SchemaRegistryClient::State {
  std::string base;  // url without a trailing '/'
  std::unique_ptr<CURL, CurlDeleter> curl{curl_easy_init()};
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  std::string body;
};

SchemaRegistryClient::SchemaRegistryClient(const config::SchemaRegistry& r) : s_(std::make_unique<State>()) {
  if (!s_->curl) throw std::runtime_error("curl_easy_init failed");
  s_->base = r.url;
  while (s_->base.ends_with('/')) s_->base.pop_back();
  CURL* c = s_->curl.get();
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout_ms));
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // credentials go to the configured host only
  curl_easy_setopt(c, CURLOPT_USERAGENT, "sluice");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s_->body);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!r.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, r.ca_file.c_str());
  if (!r.client_cert.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, r.client_cert.c_str());
  if (!r.client_key.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, r.client_key.c_str());
  if (!r.username.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, r.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, r.password.c_str());
  }
  const auto add = [&](const std::string& line) {
    if (curl_slist* next = curl_slist_append(s_->headers.get(), line.c_str()); next != nullptr) {
      (void)s_->headers.release();
      s_->headers.reset(next);
    }
  };
  add("Accept: application/vnd.schemaregistry.v1+json, application/json");
  if (!r.token.empty()) add("Authorization: Bearer " + r.token);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, s_->headers.get());
}

SchemaRegistryClient::~SchemaRegistryClient() = default;

SchemaRegistryClient::Status SchemaRegistryClient::fetch(std::int32_t id, RegistrySchema& out, std::string& why) {
  CURL* c = s_->curl.get();
  const std::string url = s_->base + "/schemas/ids/" + std::to_string(id);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  s_->body.clear();
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    why = std::string("schema registry: ") + curl_easy_strerror(rc) + " (" + config::redact_url(url) + ")";
    return Status::kUnavailable;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status == 404) {
    why = "the schema registry has no schema " + std::to_string(id) + " (404: " + excerpt(s_->body) + ")";
    return Status::kNotFound;
  }
  if (status != 200) {
    why = "schema registry answered " + std::to_string(status) + " for schema " + std::to_string(id) + ": " +
          excerpt(s_->body);
    return Status::kUnavailable;
  }
  const auto j = nlohmann::json::parse(s_->body, nullptr, false);
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string()) {
    why = "schema registry's answer for schema " + std::to_string(id) + " has no \"schema\" text: " + excerpt(s_->body);
    return Status::kUnavailable;
  }
  out.text = j["schema"].get<std::string>();
  out.type = j.contains("schemaType") && j["schemaType"].is_string() ? j["schemaType"].get<std::string>() : "AVRO";
  return Status::kFound;
}

}  // namespace sluice::worker
