#include "worker/cloudevent_record.hpp"

#include <algorithm>
#include <string_view>

#include <nlohmann/json.hpp>

#include "worker/json_check.hpp"
#include "worker/text_codec.hpp"

namespace sluice::worker {
namespace {

using ojson = nlohmann::ordered_json;

bool has_required(const CloudEvent& e) {
  auto value_of = [&](std::string_view name) -> std::string_view {
    const auto it = std::ranges::find_if(e.attributes, [&](const auto& a) { return a.first == name; });
    return it == e.attributes.end() ? std::string_view{} : std::string_view(it->second);
  };
  return value_of("specversion") == "1.0" && !value_of("id").empty() && !value_of("source").empty() &&
         !value_of("type").empty();
}

// Kafka binary mode: `ce_<name>` headers (the prefix in any case, as SDKs accept it) are
// the attributes, `content-type` is datacontenttype, the value is the data.
std::optional<CloudEvent> binary_mode(const sluice_record& r) {
  CloudEvent e;
  std::optional<std::string> ce_datacontenttype;
  for (std::size_t i = 0; i < r.header_count; ++i) {
    const sluice_header& h = r.headers[i];
    const std::string name = ascii_lower({h.name, h.name_len});
    const std::string_view value = bytes_of(h.value, h.value_len);
    if (name == "content-type") {
      if (h.value != nullptr) e.datacontenttype = std::string(value);
      continue;
    }
    if (!name.starts_with("ce_")) continue;
    std::string attribute = name.substr(3);
    if (!valid_attribute_name(attribute) || h.value == nullptr || !valid_utf8(value)) return std::nullopt;
    if (attribute == "datacontenttype") {
      ce_datacontenttype = std::string(value);
    } else {
      set_attribute(e.attributes, 0, std::move(attribute), std::string(value));
    }
  }
  if (!e.datacontenttype) e.datacontenttype = std::move(ce_datacontenttype);
  if (!has_required(e)) return std::nullopt;
  e.data = std::string(bytes_of(r.value, r.value_len));
  return e;
}

// The JSON event format's rule: data is JSON when datacontenttype is absent or a JSON
// media type (application/json, text/json, anything +json).
bool json_media_type(const std::optional<std::string>& content_type) {
  if (!content_type) return true;
  std::string type = ascii_lower(*content_type);
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type == "application/json" || type == "text/json" || type.ends_with("+json");
}

// An attribute value as the HTTP binding carries it: its canonical string.
std::optional<std::string> attribute_text(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.dump();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return std::nullopt;  // CloudEvents has no float, object or list attributes
}

// Kafka structured mode: the value is the whole event in the JSON event format.
std::optional<CloudEvent> structured_mode(const sluice_record& r) {
  const std::string_view value = bytes_of(r.value, r.value_len);
  if (r.value == nullptr || !is_json_value(value)) return std::nullopt;
  const ojson j = ojson::parse(value, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  CloudEvent e;
  const ojson* data = nullptr;
  const ojson* data_base64 = nullptr;
  for (const auto& [name, v] : j.items()) {
    if (name == "data") {
      data = &v;
    } else if (name == "data_base64") {
      data_base64 = &v;
    } else if (!valid_attribute_name(name)) {
      return std::nullopt;
    } else if (!v.is_null()) {  // null means "absent" in the JSON format
      auto text = attribute_text(v);
      if (!text) return std::nullopt;
      if (name == "datacontenttype") {
        e.datacontenttype = std::move(*text);
      } else {
        set_attribute(e.attributes, 0, name, std::move(*text));
      }
    }
  }
  if (!has_required(e) || (data != nullptr && data_base64 != nullptr)) return std::nullopt;
  if (data_base64 != nullptr) {
    if (!data_base64->is_string() || !base64_decode(data_base64->get<std::string>(), e.data)) return std::nullopt;
  } else if (data != nullptr && !data->is_null()) {
    if (json_media_type(e.datacontenttype)) {
      e.data = data->dump();
      if (!e.datacontenttype) e.datacontenttype = "application/json";
    } else {
      e.data = data->is_string() ? data->get<std::string>() : data->dump();
    }
  }
  return e;
}

}  // namespace

void set_attribute(std::vector<std::pair<std::string, std::string>>& list, std::size_t from, std::string name,
                   std::string value) {
  const auto begin = list.begin() + static_cast<std::ptrdiff_t>(from);
  const auto it = std::find_if(begin, list.end(), [&](const auto& a) { return a.first == name; });
  if (it != list.end()) {
    it->second = std::move(value);
  } else {
    list.emplace_back(std::move(name), std::move(value));
  }
}

bool valid_attribute_name(std::string_view name) {
  return !name.empty() && std::ranges::all_of(name, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

std::optional<CloudEvent> cloudevent_of(const sluice_record& r) {
  bool binary = false;
  for (std::size_t i = 0; i < r.header_count; ++i) {
    const sluice_header& h = r.headers[i];
    const std::string name = ascii_lower({h.name, h.name_len});
    // The binding's rule: a content-type of the CloudEvents media type means structured
    // mode, whatever else the record carries.
    if (name == "content-type" && h.value != nullptr) {
      const std::string type = ascii_lower(bytes_of(h.value, h.value_len));
      if (type.starts_with("application/cloudevents")) {
        return type.starts_with("application/cloudevents+json") ? structured_mode(r) : std::nullopt;
      }
    }
    binary = binary || name == "ce_specversion";
  }
  return binary ? binary_mode(r) : std::nullopt;
}

}  // namespace sluice::worker
