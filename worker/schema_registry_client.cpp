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

// The "references" of a registry answer; false when they are there but not references.
bool read_references(const nlohmann::json& j, std::vector<SchemaReference>& out) {
  out.clear();
  if (!j.contains("references")) return true;
  const auto& refs = j["references"];
  if (!refs.is_array()) return false;
  for (const auto& r : refs) {
    if (!r.is_object() || !r.contains("name") || !r["name"].is_string() || !r.contains("subject") ||
        !r["subject"].is_string() || !r.contains("version") || !r["version"].is_number_integer()) {
      return false;
    }
    out.push_back({r["name"].get<std::string>(), r["subject"].get<std::string>(), r["version"].get<std::int64_t>()});
  }
  return true;
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
  return ask("/schemas/ids/" + std::to_string(id), "schema " + std::to_string(id), out, why);
}

SchemaRegistryClient::Status SchemaRegistryClient::fetch(const SchemaReference& ref, RegistrySchema& out, std::string& why) {
  // A subject is any text: escaped, it stays one path segment.
  char* subject = curl_easy_escape(s_->curl.get(), ref.subject.data(), static_cast<int>(ref.subject.size()));
  if (subject == nullptr) {
    why = "schema registry: cannot escape subject \"" + ref.subject + "\"";
    return Status::kUnavailable;
  }
  const std::string path = "/subjects/" + std::string(subject) + "/versions/" + std::to_string(ref.version);
  curl_free(subject);
  return ask(path, "subject \"" + ref.subject + "\" version " + std::to_string(ref.version), out, why);
}

SchemaRegistryClient::Status SchemaRegistryClient::ask(const std::string& path, const std::string& what, RegistrySchema& out,
                                                       std::string& why) {
  CURL* c = s_->curl.get();
  const std::string url = s_->base + path;
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
    why = "the schema registry has no " + what + " (404: " + excerpt(s_->body) + ")";
    return Status::kNotFound;
  }
  if (status != 200) {
    why = "schema registry answered " + std::to_string(status) + " for " + what + ": " + excerpt(s_->body);
    return Status::kUnavailable;
  }
  const auto j = nlohmann::json::parse(s_->body, nullptr, false);
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string()) {
    why = "schema registry's answer for " + what + " has no \"schema\" text: " + excerpt(s_->body);
    return Status::kUnavailable;
  }
  if (!read_references(j, out.references)) {
    why = "schema registry's answer for " + what + " has references that are not {name, subject, version}: " +
          excerpt(s_->body);
    return Status::kUnavailable;
  }
  out.text = j["schema"].get<std::string>();
  out.type = j.contains("schemaType") && j["schemaType"].is_string() ? j["schemaType"].get<std::string>() : "AVRO";
  return Status::kFound;
}

}  // namespace sluice::worker
