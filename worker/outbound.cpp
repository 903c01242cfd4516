#include "worker/outbound.hpp"

#include <nlohmann/json.hpp>

#include "worker/text_codec.hpp"

namespace sluice::worker {
namespace {

using nlohmann::json;

constexpr int kMaxAnswerDepth = 128;

// key/value: "<name>" as text or other JSON, "<name>_base64" as bytes.
bool read_bytes(const json& e, const char* name, bool json_allowed, std::optional<std::string>& out, std::string& why) {
  const std::string b64 = std::string(name) + "_base64";
  if (auto it = e.find(b64); it != e.end() && !it->is_null()) {
    std::string bytes;
    if (!it->is_string() || !base64_decode(it->get_ref<const std::string&>(), bytes)) {
      why = b64 + " must be a base64 string";
      return false;
    }
    out = std::move(bytes);
    return true;
  }
  const auto it = e.find(name);
  if (it == e.end() || it->is_null()) return true;
  if (it->is_string()) {
    out = it->get<std::string>();
  } else if (json_allowed) {
    out = it->dump();
  } else {
    why = std::string(name) + " must be a string";
    return false;
  }
  return true;
}

// "headers": an object of name -> string or null (one value per name, text), or a list
// of {"name", "value" | "value_base64"} in the order they are produced, for what an
// object cannot hold: repeated names and values that are bytes.
bool read_headers(const json& h, std::vector<std::pair<std::string, std::optional<std::string>>>& out, std::string& why) {
  if (h.is_object()) {
    for (const auto& [name, value] : h.items()) {
      if (!value.is_null() && !value.is_string()) {
        why = "header " + name + " must be a string or null";
        return false;
      }
      out.emplace_back(name, value.is_null() ? std::nullopt : std::optional<std::string>(value.get<std::string>()));
    }
    return true;
  }
  if (!h.is_array()) {
    why = "headers must be an object of strings or a list of {name, value}";
    return false;
  }
  for (std::size_t j = 0; j < h.size(); ++j) {
    const std::string at = "headers[" + std::to_string(j) + "]: ";
    const json& entry = h[j];
    const auto name = entry.is_object() ? entry.find("name") : entry.end();
    if (!entry.is_object() || name == entry.end() || !name->is_string()) {
      why = at + "must be an object with a string \"name\"";
      return false;
    }
    std::optional<std::string> value;
    if (!read_bytes(entry, "value", false, value, why)) {
      why = at + why;
      return false;
    }
    out.emplace_back(name->get<std::string>(), std::move(value));
  }
  return true;
}

}  // namespace

bool parse_produce(std::string_view body, std::vector<OutboundRecord>& out, std::string& why) {
  // Cheap test first: most answers carry no records, and parsing each would cost.
  if (body.find("\"produce\"") == std::string_view::npos) return true;
  // A value may be any JSON and is printed back to text, recursively: an answer nested
  // 100,000 deep overflowed the worker's stack. No record needs more than this.
  if (!nesting_at_most(body, kMaxAnswerDepth)) {
    why = "produce: the answer is nested deeper than " + std::to_string(kMaxAnswerDepth) + " levels";
    return false;
  }
  // It names "produce" but does not parse: records the handler asked for would be lost
  // without a word, so the answer is refused (the call is retried). nlohmann's parser
  // stops at a NUL, which would read a prefix of the answer as all of it.
  const json doc = body.find('\0') == std::string_view::npos ? json::parse(body, nullptr, false) : json(json::value_t::discarded);
  if (doc.is_discarded()) {
    why = "produce: the answer names \"produce\" but is not JSON";
    return false;
  }
  if (!doc.is_object()) return true;
  const auto list = doc.find("produce");
  if (list == doc.end() || list->is_null()) return true;
  if (!list->is_array()) {
    why = "produce: must be a list of records";
    return false;
  }
  std::vector<OutboundRecord> records;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    const std::string at = "produce[" + std::to_string(i) + "]: ";
    if (!e.is_object()) {
      why = at + "must be an object";
      return false;
    }
    OutboundRecord r;
    const auto topic = e.find("topic");
    if (topic == e.end() || !topic->is_string() || topic->get_ref<const std::string&>().empty()) {
      why = at + "topic must be a non-empty string";
      return false;
    }
    r.topic = topic->get<std::string>();
    if (const auto p = e.find("partition"); p != e.end() && !p->is_null()) {
      if (!p->is_number_integer() || p->get<std::int64_t>() < 0 || p->get<std::int64_t>() > INT32_MAX) {
        why = at + "partition must be a non-negative integer";
        return false;
      }
      r.partition = static_cast<std::int32_t>(p->get<std::int64_t>());
    }
    std::string w;
    if (!read_bytes(e, "key", false, r.key, w) || !read_bytes(e, "value", true, r.value, w)) {
      why = at + w;
      return false;
    }
    if (const auto h = e.find("headers"); h != e.end() && !h->is_null() && !read_headers(*h, r.headers, w)) {
      why = at + w;
      return false;
    }
    records.push_back(std::move(r));
  }
  for (auto& r : records) out.push_back(std::move(r));
  return true;
}

}  // namespace sluice::worker
