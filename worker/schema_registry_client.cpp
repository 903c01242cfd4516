#include "worker/schema_registry_client.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "worker/curl_easy.hpp"

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

}  // namespace

struct SchemaRegistryClient::State {
  std::string base;  // url without a trailing '/'
  CurlHandle curl;
  HeaderLines headers;
  std::string body;
};

SchemaRegistryClient::SchemaRegistryClient(const config::SchemaRegistry& r) : s_(std::make_unique<State>()) {
  // Credentials go to the configured host only: new_curl_handle follows no redirect.
  s_->curl = new_curl_handle(static_cast<long>(r.timeout_ms), {r.ca_file, r.client_cert, r.client_key});
  s_->base = r.url;
  while (s_->base.ends_with('/')) s_->base.pop_back();
  CURL* c = s_->curl.get();
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s_->body);
  if (!r.username.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, r.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, r.password.c_str());
  }
  append_header(s_->headers, "Accept: application/vnd.schemaregistry.v1+json, application/json");
  if (!r.token.empty()) append_header(s_->headers, "Authorization: Bearer " + r.token);
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
