#include "worker/json_schema.hpp"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "worker/text_codec.hpp"

namespace sluice::worker {
namespace {

// one_json_value() builds nothing; only a text it refuses is looked at again, for where
// its NUL byte is or for nlohmann's message (which names the byte and what it expected,
// and refuses invalid UTF-8 inside strings).
bool well_formed(std::string_view text, std::string& error) {
  if (one_json_value(text)) return true;
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    error = "a NUL byte at byte " + std::to_string(nul + 1);
    return false;
  }
  try {
    const auto parsed = nlohmann::json::parse(text.begin(), text.end());
    error = "refused by the JSON parser";  // not expected: accept() and parse() agree
  } catch (const nlohmann::json::exception& e) {
    error = e.what();
  }
  return false;
}

}  // namespace

JsonSchema::JsonSchema(std::string_view schema_text) {
  if (std::string error; !well_formed(schema_text, error)) throw std::runtime_error("the JSON Schema is not JSON: " + error);
}

bool JsonSchema::to_json(std::string_view data, std::string& json, std::string& error) {
  data = trim_json_space(data);
  if (data.empty()) {
    error = "the data is empty, not a JSON value";
    return false;
  }
  if (!well_formed(data, error)) {
    error = "the data is not JSON: " + error;
    return false;
  }
  json.assign(data);
  return true;
}

}  // namespace sluice::worker
