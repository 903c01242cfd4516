// One Avro schema from a registry, ready to turn binary-encoded data into JSON with
// Debian's Avro C library.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "worker/datum_schema.hpp"

namespace sluice::worker {

class AvroSchema final : public DatumSchema {
 public:
  // Parses the schema's JSON text; throws std::runtime_error with Avro C's reason.
  // `references`: the types it uses that are registered on their own, by full name.
  explicit AvroSchema(std::string_view schema_json, std::span<const ReferencedSchema> references = {});
  ~AvroSchema() override;
  AvroSchema(const AvroSchema&) = delete;
  AvroSchema& operator=(const AvroSchema&) = delete;

  // The datum in `bytes` (Avro binary encoding, no framing) as Avro's JSON encoding, in
  // `json`; false with the reason in `error` when the bytes are not a datum of this schema
  // (too short, a bad union branch or enum symbol, bytes left over).
  bool to_json(std::string_view bytes, std::string& json, std::string& error) override;
  std::string_view data_format() const override { return "AVRO"; }

  // Longest datum of a recursive schema (a list or tree type) decoded: its nesting is
  // bounded by its length only.
  static constexpr std::size_t kMaxRecursiveBytes = 2048;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sluice::worker
