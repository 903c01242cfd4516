#include "worker/schema_decoder.hpp"

#include <stdexcept>

namespace sluice::worker {

namespace {
constexpr unsigned char kMagic = 0;
constexpr std::size_t kFrameBytes = 5;  // magic byte + schema id

std::int32_t schema_id(const char* bytes) {
  std::uint32_t id = 0;
  for (int i = 1; i <= 4; ++i) id = (id << 8) | static_cast<unsigned char>(bytes[i]);
  return static_cast<std::int32_t>(id);
}
}  // namespace

SchemaDecoder::SchemaDecoder(const config::SchemaRegistry& registry) : registry_(registry), client_(registry) {}

AvroSchema* SchemaDecoder::avro_schema(std::int32_t id, Result& result, std::string& why) {
  if (const auto it = avro_.find(id); it != avro_.end()) return it->second.get();
  if (const auto it = unusable_.find(id); it != unusable_.end()) {
    result = Result::kFailed;
    why = it->second;
    return nullptr;
  }
  RegistrySchema schema;
  switch (client_.fetch(id, schema, why)) {
    case SchemaRegistryClient::Status::kFound:
      break;
    case SchemaRegistryClient::Status::kNotFound:
      // Not remembered: an id a record names before its schema is registered may come.
      result = Result::kFailed;
      return nullptr;
    case SchemaRegistryClient::Status::kUnavailable:
      result = Result::kUnavailable;
      return nullptr;
  }
  if (schema.type != "AVRO") {
    why = "a " + schema.type + " schema, which sluice does not decode yet";
  } else {
    try {
      return avro_.emplace(id, std::make_unique<AvroSchema>(schema.text)).first->second.get();
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  unusable_.emplace(id, why);
  result = Result::kFailed;
  return nullptr;
}

RecordDecoder::Result SchemaDecoder::decode(const char* bytes, std::size_t len, bool key, std::string& out,
                                            SchemaRef& ref, std::string& why) {
  const config::SchemaFormat format = key ? registry_.key_format : registry_.value_format;
  if (format == config::SchemaFormat::kNone || bytes == nullptr) return Result::kAsIs;  // a null stays null
  const char* part = key ? "key" : "value";
  if (len < kFrameBytes || static_cast<unsigned char>(bytes[0]) != kMagic) {
    if (format == config::SchemaFormat::kAuto) return Result::kAsIs;
    why = std::string("schema_decode: the ") + part + " is not in the schema registry's wire format (magic byte 0 and a "
          "4-byte schema id)";
    return Result::kFailed;
  }
  const std::int32_t id = schema_id(bytes);
  Result result = Result::kFailed;
  AvroSchema* schema = avro_schema(id, result, why);
  if (schema == nullptr) {
    why = std::string(result == Result::kFailed ? "schema_decode: " : "") + part + " schema " + std::to_string(id) +
          ": " + why;
    return result;
  }
  if (!schema->to_json({bytes + kFrameBytes, len - kFrameBytes}, out, why)) {
    why = std::string("schema_decode: ") + part + " schema " + std::to_string(id) + ": " + why;
    return Result::kFailed;
  }
  ref = {"AVRO", id};
  return Result::kDecoded;
}

std::unique_ptr<RecordDecoder> make_schema_decoder(const config::Lambda& lambda) {
  if (lambda.schema_registry.url.empty()) return nullptr;
  return std::make_unique<SchemaDecoder>(lambda.schema_registry);
}

}  // namespace sluice::worker
