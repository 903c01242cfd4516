// One schema from a registry, ready to turn the data of a framed record (what follows
// the magic byte and the schema id) into JSON. One implementation per schema type:
// worker/avro_schema.hpp, worker/protobuf_schema.hpp, worker/json_schema.hpp.
#pragma once

#include <string>
#include <string_view>

namespace sluice::worker {

// A schema that another one refers to, registered on its own: `name` is how the other
// one names it (an Avro type's full name, a Protobuf import's file name).
struct ReferencedSchema {
  std::string name;
  std::string text;
};

class DatumSchema {
 public:
  virtual ~DatumSchema() = default;
  // The data as JSON in `json`; false with the reason in `error` when the bytes are not
  // data of this schema.
  virtual bool to_json(std::string_view data, std::string& json, std::string& error) = 0;
  // AWS's name for the data format: "AVRO", "PROTOBUF", "JSON".
  virtual std::string_view data_format() const = 0;
};

}  // namespace sluice::worker
