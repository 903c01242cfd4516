// One Protobuf schema from a registry (the .proto text), ready to turn Confluent-framed
// message data into JSON with Debian's libprotobuf: its parser reads the text, dynamic
// messages decode, its JSON printer prints (protobuf's JSON mapping).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "worker/datum_schema.hpp"

namespace sluice::worker {

class ProtobufSchema final : public DatumSchema {
 public:
  // Parses the .proto text; throws std::runtime_error naming line, column and reason.
  // Its imports resolve to `references` (by file name; each after those it imports) and
  // to protobuf's well-known types (google/protobuf/*.proto).
  explicit ProtobufSchema(std::string_view proto_text, std::span<const ReferencedSchema> references = {});
  ~ProtobufSchema() override;
  ProtobufSchema(const ProtobufSchema&) = delete;
  ProtobufSchema& operator=(const ProtobufSchema&) = delete;

  // `data`: the message indexes (Confluent's: a zigzag varint count, then that many
  // zigzag varint indexes into the file's messages and their nested ones; a count of 0
  // means the first message), then the message's binary encoding.
  bool to_json(std::string_view data, std::string& json, std::string& error) override;
  std::string_view data_format() const override { return "PROTOBUF"; }

  // Most message indexes read (nesting of message types in the schema).
  static constexpr std::size_t kMaxIndexes = 64;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sluice::worker
