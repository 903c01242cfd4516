// A Confluent-compatible schema registry, asked for schemas by id (GET /schemas/ids/{id})
// and, for the schemas they refer to, by subject and version
// (GET /subjects/{subject}/versions/{version}).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace sluice::worker {

// A schema this one uses that is registered on its own: `name` is how the schema text
// names it (an Avro type's full name, a Protobuf import's file name).
struct SchemaReference {
  std::string name;
  std::string subject;
  std::int64_t version = 0;
};

struct RegistrySchema {
  std::string type;  // "AVRO", "PROTOBUF" or "JSON" (the registry's schemaType; AVRO when absent)
  std::string text;  // the schema itself
  std::vector<SchemaReference> references;
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
  // The same for a version of a subject.
  Status fetch(const SchemaReference& ref, RegistrySchema& out, std::string& why);

 private:
  Status ask(const std::string& path, const std::string& what, RegistrySchema& out, std::string& why);

  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sluice::worker
