// Avro C reads a schema as one document, in which a named type is defined once (at its
// first use in document order) and named after that. A registry schema that uses types
// registered under other subjects (its references) only names them: each is put in,
// as its definition, where it is first used, and the result is one document.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "worker/datum_schema.hpp"

namespace sluice::worker {

// `references` by full name (Confluent's reference name for an Avro type). A name that is
// none of them is left for Avro C to resolve or refuse. Throws std::runtime_error when a
// text is not JSON or is nested deeper than kMaxAvroSchemaDepth.
std::string inline_avro_references(std::string_view schema_json, std::span<const ReferencedSchema> references);

inline constexpr int kMaxAvroSchemaDepth = 200;

}  // namespace sluice::worker
