#include "worker/avro_references.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace sluice::worker {
namespace {

using nlohmann::json;

bool primitive(const std::string& t) {
  static const std::set<std::string, std::less<>> kPrimitives = {"null",   "boolean", "int",   "long",
                                                                  "float",  "double",  "bytes", "string"};
  return kPrimitives.count(t) != 0;
}

// `name` as the Avro spec resolves it inside namespace `ns`: a dotted name is full already.
std::string full_name(const std::string& name, const std::string& ns) {
  return name.find('.') != std::string::npos || ns.empty() ? name : ns + "." + name;
}

std::string namespace_of(const std::string& full) {
  const std::size_t dot = full.rfind('.');
  return dot == std::string::npos ? std::string() : full.substr(0, dot);
}

class Inliner {
 public:
  explicit Inliner(std::span<const ReferencedSchema> references) {
    for (const auto& r : references) {
      json j = json::parse(r.text, nullptr, false);
      if (j.is_discarded()) throw std::runtime_error("the reference \"" + r.name + "\" is not JSON");
      references_.emplace(r.name, std::move(j));
    }
  }

  void walk(json& s, const std::string& ns, int depth) {
    if (depth > kMaxAvroSchemaDepth) {
      throw std::runtime_error("the schema is nested deeper than " + std::to_string(kMaxAvroSchemaDepth) + " levels");
    }
    if (s.is_string()) {
      const std::string name = s.get<std::string>();
      if (primitive(name)) return;
      const std::string full = full_name(name, ns);
      auto it = references_.find(full);
      if (it == references_.end()) it = references_.find(name);
      if (it == references_.end() || !inlined_.insert(it->first).second) return;  // Avro C resolves it, or refuses it
      // Each reference goes in once, whatever it defines: a second use stays a name, and
      // references that use each other cannot multiply.
      s = it->second;
      walk(s, ns, depth + 1);
      return;
    }
    if (s.is_array()) {  // a union
      for (auto& branch : s) walk(branch, ns, depth + 1);
      return;
    }
    if (!s.is_object() || !s.contains("type")) return;
    json& type = s["type"];
    const std::string t = type.is_string() ? type.get<std::string>() : std::string();
    if (t == "record" || t == "error" || t == "enum" || t == "fixed") {
      std::string inner = ns;
      if (s.contains("name") && s["name"].is_string()) {
        const std::string name = s["name"].get<std::string>();
        const bool own_ns = name.find('.') == std::string::npos && s.contains("namespace") && s["namespace"].is_string();
        inner = namespace_of(full_name(name, own_ns ? s["namespace"].get<std::string>() : ns));
      }
      if ((t == "record" || t == "error") && s.contains("fields") && s["fields"].is_array()) {
        for (auto& field : s["fields"]) {
          if (field.is_object() && field.contains("type")) walk(field["type"], inner, depth + 1);
        }
      }
      return;
    }
    if (t == "array" && s.contains("items")) return walk(s["items"], ns, depth + 1);
    if (t == "map" && s.contains("values")) return walk(s["values"], ns, depth + 1);
    // {"type": "long", "logicalType": ...}, {"type": "Address"}, {"type": {...}}
    walk(type, ns, depth + 1);
  }

 private:
  std::map<std::string, json> references_;
  std::set<std::string> inlined_;
};

}  // namespace

std::string inline_avro_references(std::string_view schema_json, std::span<const ReferencedSchema> references) {
  json schema = json::parse(schema_json, nullptr, false);
  if (schema.is_discarded()) throw std::runtime_error("not an Avro schema: not JSON");
  Inliner(references).walk(schema, "", 0);
  return schema.dump();
}

}  // namespace sluice::worker
