// Which registry schema a record's key or value was decoded with: the event formats name
// it (AWS's keySchemaMetadata/valueSchemaMetadata, X-Kafka-*-Schema-Id, CloudEvents'
// dataschema) so that a handler can tell decoded JSON from a value that was JSON already.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::worker {

struct SchemaRef {
  std::string_view data_format;  // "AVRO", "PROTOBUF", "JSON" (AWS's names); empty: not decoded
  std::int32_t id = 0;
  bool decoded() const { return !data_format.empty(); }
};

struct RecordSchemas {
  SchemaRef key;
  SchemaRef value;
  // The bytes each decoded part was decoded from (a plugin can ask for them); they live
  // in the worker's ring until the record's outcome is written.
  std::string_view key_original;
  std::string_view value_original;
};

}  // namespace sluice::worker
