// A Confluent-compatible schema registry, asked for schemas by id (GET /schemas/ids/{id}).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace sluice::worker {

struct RegistrySchema {
  std::string type;  // "AVRO", "PROTOBUF" or "JSON" (the registry's schemaType; AVRO when absent)
  std::string text;  // the schema itself
};

class SchemaRegistryClient {
 public:
  explicit SchemaRegistryClient(const config::SchemaRegistry& registry);
  ~SchemaRegistryClient();
  SchemaRegistryClient(const SchemaRegistryClient&) = delete;
  SchemaRegistryClient& operator=(const SchemaRegistryClient&) = delete;

  enum class Status { kFound, kNotFound, kUnavailable };
  // kNotFound: the registry says there is no such id (a record naming it cannot be
  // decoded); kUnavailable: no answer that says anything about the id (network, 5xx,
  // 429, refused credentials, a body that is not a schema answer), with the reason.
  Status fetch(std::int32_t id, RegistrySchema& out, std::string& why);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sluice::worker
