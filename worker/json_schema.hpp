// One JSON Schema from a registry. Its records are JSON already (after the magic byte
// and the schema id): "decoding" is checking that the bytes are one well-formed JSON
// value in UTF-8, then handing them on as they are, so numbers keep every digit.
//
// The data is not validated against the schema. Confluent's own JSON Schema
// deserializer does not either unless told to (json.fail.invalid.schema, false by
// default): the producer's serializer validated it. Validating here would take a JSON
// Schema validator, which Debian packages for C++ none of.
#pragma once

#include <string>
#include <string_view>

#include "worker/datum_schema.hpp"

namespace sluice::worker {

class JsonSchema final : public DatumSchema {
 public:
  // Throws std::runtime_error when the schema text is not JSON.
  explicit JsonSchema(std::string_view schema_text);
  bool to_json(std::string_view data, std::string& json, std::string& error) override;
  std::string_view data_format() const override { return "JSON"; }
};

}  // namespace sluice::worker
