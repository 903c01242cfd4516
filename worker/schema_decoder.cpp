#include "worker/schema_decoder.hpp"

#include <set>
#include <stdexcept>

#include "worker/avro_schema.hpp"
#include "worker/json_schema.hpp"
#include "worker/protobuf_schema.hpp"

namespace sluice::worker {

namespace {
constexpr unsigned char kMagic = 0;
constexpr std::size_t kFrameBytes = 5;  // magic byte + schema id

// Whether a part configured as `format` may be decoded by a schema of this data format.
bool format_allows(config::SchemaFormat format, std::string_view data_format) {
  switch (format) {
    case config::SchemaFormat::kAvro: return data_format == "AVRO";
    case config::SchemaFormat::kProtobuf: return data_format == "PROTOBUF";
    case config::SchemaFormat::kJsonSchema: return data_format == "JSON";
    default: return true;
  }
}

// Whether the registry had what was asked for; when not, the result for the record.
bool answered(SchemaRegistryClient::Status status, RecordDecoder::Result& result) {
  switch (status) {
    case SchemaRegistryClient::Status::kFound:
      return true;
    case SchemaRegistryClient::Status::kNotFound:
      result = RecordDecoder::Result::kFailed;
      return false;
    case SchemaRegistryClient::Status::kUnavailable:
      break;
  }
  result = RecordDecoder::Result::kUnavailable;
  return false;
}

std::int32_t schema_id(const char* bytes) {
  std::uint32_t id = 0;
  for (int i = 1; i <= 4; ++i) id = (id << 8) | static_cast<unsigned char>(bytes[i]);
  return static_cast<std::int32_t>(id);
}
}  // namespace

SchemaDecoder::SchemaDecoder(const config::SchemaRegistry& registry) : registry_(registry), client_(registry) {}

DatumSchema* SchemaDecoder::schema(std::int32_t id, Result& result, std::string& why) {
  if (const auto it = schemas_.find(id); it != schemas_.end()) return it->second.get();
  if (const auto it = unusable_.find(id); it != unusable_.end()) {
    result = Result::kFailed;
    why = it->second;
    return nullptr;
  }
  RegistrySchema schema;
  std::vector<ReferencedSchema> refs;
  // Not remembered when missing: an id (or a version it refers to) that a record names
  // before it is registered may come. A JSON Schema's references are not needed: its
  // data is not validated.
  if (!answered(client_.fetch(id, schema, why), result) ||
      (schema.type != "JSON" && !references(schema, refs, result, why))) {
    return nullptr;
  }
  try {
    if (schema.type == "AVRO") return schemas_.emplace(id, std::make_unique<AvroSchema>(schema.text, refs)).first->second.get();
    if (schema.type == "PROTOBUF") {
      return schemas_.emplace(id, std::make_unique<ProtobufSchema>(schema.text, refs)).first->second.get();
    }
    if (schema.type == "JSON") return schemas_.emplace(id, std::make_unique<JsonSchema>(schema.text)).first->second.get();
    why = "a " + schema.type + " schema, a type sluice does not decode";
  } catch (const std::exception& e) {
    why = e.what();
  }
  unusable_.emplace(id, why);
  result = Result::kFailed;
  return nullptr;
}

bool SchemaDecoder::references(const RegistrySchema& top, std::vector<ReferencedSchema>& out, Result& result,
                               std::string& why) {
  // Depth first, each reference written out once all of its own are: a stack of the
  // schemas being visited. `open` holds those on the stack, so that a cycle is refused
  // rather than followed for ever.
  using Key = std::pair<std::string, std::int64_t>;
  struct Frame {
    const RegistrySchema* schema;
    std::size_t next = 0;  // its next reference to visit
    Key key;
    std::string name;
  };
  std::vector<Frame> stack{{&top, 0, {}, {}}};
  std::set<Key> open, written;
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next == f.schema->references.size()) {
      if (stack.size() > 1) {  // the top one is the caller's
        out.push_back({f.name, f.schema->text});
        written.insert(f.key);
        open.erase(f.key);
      }
      stack.pop_back();
      continue;
    }
    const SchemaReference& ref = f.schema->references[f.next++];
    Key key{ref.subject, ref.version};
    if (written.count(key) != 0) continue;
    result = Result::kFailed;
    if (open.count(key) != 0) {
      why = "its references form a cycle at subject \"" + ref.subject + "\" version " + std::to_string(ref.version);
      return false;
    }
    if (written.size() + open.size() >= kMaxReferences) {
      why = "it refers to more than " + std::to_string(kMaxReferences) + " schemas";
      return false;
    }
    auto it = versions_.find(key);
    if (it == versions_.end()) {
      RegistrySchema s;
      if (!answered(client_.fetch(ref, s, why), result)) return false;
      it = versions_.emplace(key, std::move(s)).first;  // map nodes stay put: the stack may point at them
    }
    open.insert(key);
    stack.push_back({&it->second, 0, std::move(key), ref.name});
  }
  return true;
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
  DatumSchema* found = schema(id, result, why);
  if (found != nullptr && !format_allows(format, found->data_format())) {
    why = std::string("a ") + std::string(found->data_format()) + " schema, and " + part + "_format is " +
          config::to_string(format);
    found = nullptr;
  }
  if (found != nullptr && found->to_json({bytes + kFrameBytes, len - kFrameBytes}, out, why)) {
    ref = {found->data_format(), id};
    return Result::kDecoded;
  }
  // A failure is the record's (schema_decode, the failure path); unavailability is not.
  why = std::string(result == Result::kFailed ? "schema_decode: " : "") + part + " schema " + std::to_string(id) + ": " +
        why;
  return result;
}

std::unique_ptr<RecordDecoder> make_schema_decoder(const config::Lambda& lambda) {
  if (lambda.schema_registry.url.empty()) return nullptr;
  return std::make_unique<SchemaDecoder>(lambda.schema_registry);
}

}  // namespace sluice::worker
