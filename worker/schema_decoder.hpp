// Schema-registry decoding of Confluent-framed keys and values: magic byte 0, a 4-byte
// big-endian schema id, then the data. Schemas are fetched once per id and kept for the
// worker's life (a registry never changes what an id means).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "worker/datum_schema.hpp"
#include "worker/record_decoder.hpp"
#include "worker/schema_registry_client.hpp"

namespace sluice::worker {

class SchemaDecoder : public RecordDecoder {
 public:
  explicit SchemaDecoder(const config::SchemaRegistry& registry);
  // Most schemas one schema may refer to, directly or not.
  static constexpr std::size_t kMaxReferences = 64;
  Result decode(const char* bytes, std::size_t len, bool key, std::string& out, SchemaRef& ref,
                std::string& why) override;

 private:
  // The schema with this id, fetched if need be; nullptr with `why` (and the result to
  // give) when there is none to use.
  DatumSchema* schema(std::int32_t id, Result& result, std::string& why);
  // The schemas `top` refers to, and those they refer to, each once, every one after
  // those it refers to; false with `why` (and the result to give) when one cannot be had.
  bool references(const RegistrySchema& top, std::vector<ReferencedSchema>& out, Result& result, std::string& why);

  config::SchemaRegistry registry_;
  SchemaRegistryClient client_;
  std::unordered_map<std::int32_t, std::unique_ptr<DatumSchema>> schemas_;
  // Ids whose schema sluice cannot use (a type it does not decode, a schema its library
  // refuses): why.
  std::unordered_map<std::int32_t, std::string> unusable_;
  // Referenced schemas by subject and version: several ids often share one.
  std::map<std::pair<std::string, std::int64_t>, RegistrySchema> versions_;
};

std::unique_ptr<RecordDecoder> make_schema_decoder(const config::Lambda& lambda);

}  // namespace sluice::worker
